/* Dashboards: loads each widget's HTML fragment (its numbers come from the server's
   statistics module), draws the trend widgets with ECharts, and in edit mode adds, moves,
   resizes and removes widgets and saves the filters through /api/v1/dashboards. No inline
   scripts: everything the page needs is in data-* attributes and JSON script blocks. */
(function () {
  "use strict";

  var root = document.getElementById("rp-root");
  if (!root) { return; }
  var dashboardId = root.getAttribute("data-dashboard");
  var csrf = root.getAttribute("data-csrf");
  var api = "/api/v1/dashboards/" + encodeURIComponent(dashboardId);
  var WIDTHS = [4, 6, 8, 12];
  var charts = [];

  function token(name, fallback) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
  }

  function fixed(value) {
    return value === null || value === undefined ? "—" : Number(value).toFixed(1);
  }

  function drawTrend(node, data) {
    if (typeof window.echarts === "undefined") { return; }
    var points = data.points;
    var hasRolling = points.some(function (p) { return p.rolling; });
    var chart = window.echarts.init(node, null, { renderer: "canvas" });
    var series = [
      { name: data.labels.n, type: "bar", yAxisIndex: 1, barMaxWidth: 10, z: 1,
        itemStyle: { color: "#dfe3ec", borderRadius: [3, 3, 0, 0] },
        data: points.map(function (p) { return p.n; }) },
      { name: data.labels.nps, type: "line", z: 3, connectNulls: false, symbolSize: 5,
        itemStyle: { color: token("--primary", "#3d5afe") }, lineStyle: { width: 2 },
        data: points.map(function (p) { return p.nps === null ? "-" : p.nps; }) }
    ];
    if (hasRolling) {
      series.push({ name: data.labels.rolling, type: "line", z: 2, symbol: "none",
        lineStyle: { type: "dashed", width: 1.5, color: "#7b8bb0" },
        data: points.map(function (p) { return p.rolling && p.rolling.nps !== null ? p.rolling.nps : "-"; }) });
    }
    var maxN = Math.max.apply(null, points.map(function (p) { return p.n; }).concat([1]));
    chart.setOption({
      textStyle: { fontFamily: token("--font", "sans-serif") },
      grid: { left: 6, right: 6, top: 24, bottom: 4, containLabel: true },
      legend: { top: 0, right: 0, itemWidth: 14, textStyle: { color: "#6b7487", fontSize: 11 } },
      tooltip: {
        trigger: "axis",
        formatter: function (params) {
          var p = points[params[0].dataIndex];
          var text = "<b>" + p.key + "</b><br>NPS " + fixed(p.nps) + " ± " + fixed(p.margin_of_error) +
            "<br>n = " + p.n;
          if (p.rolling) { text += "<br>" + data.labels.rolling + " " + fixed(p.rolling.nps); }
          return text;
        }
      },
      xAxis: { type: "category", data: points.map(function (p) { return p.key; }),
        axisTick: { show: false }, axisLine: { lineStyle: { color: "#d5dae4" } },
        axisLabel: { color: "#6b7487", hideOverlap: true,
          formatter: function (v) { return v.slice(5).replace("-", "/"); } } },
      yAxis: [
        { type: "value", min: function (v) { return Math.max(-100, Math.floor(Math.min(v.min, 0) / 10) * 10); },
          max: function (v) { return Math.min(100, Math.ceil(v.max / 10) * 10); },
          axisLabel: { color: "#6b7487" }, splitLine: { lineStyle: { color: "#eef1f6" } } },
        { type: "value", max: maxN * 4, show: false, splitLine: { show: false } }
      ],
      series: series
    });
    charts.push(chart);
  }

  function load(card) {
    var body = card.querySelector("[data-body]");
    fetch(card.getAttribute("data-src"), { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        return response.text().then(function (html) { return { ok: response.ok, html: html }; });
      })
      .then(function (result) {
        body.innerHTML = result.ok ? result.html : "<p class=\"field-error\">" + root.getAttribute("data-error") + "</p>";
        body.querySelectorAll("[data-chart=trend]").forEach(function (node) {
          var source = node.parentNode.querySelector(".rp-chart-data");
          if (source) { drawTrend(node, JSON.parse(source.textContent)); }
        });
        card.setAttribute("data-loaded", "1");
      })
      .catch(function () {
        body.innerHTML = "<p class=\"field-error\">" + root.getAttribute("data-error") + "</p>";
      });
  }

  document.querySelectorAll(".rp-widget[data-src]").forEach(load);
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });

  if (root.getAttribute("data-editing") !== "1") { return; }

  /* ---- editing, through the JSON API ---- */
  function call(method, url, body) {
    var headers = { "X-CSRF-Token": csrf, Accept: "application/json" };
    if (body !== undefined) { headers["Content-Type"] = "application/json"; }
    return fetch(url, { method: method, credentials: "same-origin", headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body) })
      .then(function (response) {
        if (response.status === 204) { return null; }
        return response.json().then(function (data) {
          if (!response.ok) {
            var detail = data.detail;
            var message = Array.isArray(detail) ? detail.map(function (d) {
              return (d.loc || []).slice(1).join(".") + ": " + d.msg;
            }).join("; ") : String(detail);
            throw new Error(message);
          }
          return data;
        });
      });
  }

  function say(form, error) {
    var target = (form || root).querySelector("[data-role=message]");
    if (target) { target.textContent = error ? error.message : ""; }
    else if (error) { window.alert(error.message); }
  }

  function reload() { window.location.reload(); }

  function saveGrid(change) {
    return call("GET", api).then(function (dashboard) {
      var list = dashboard.widgets.map(function (w) {
        return { id: w.id, kind: w.kind, title: w.title, width: w.width, options: w.options };
      });
      change(list);
      return call("PUT", api, { widgets: list });
    }).then(reload).catch(function (error) { say(null, error); });
  }

  document.querySelectorAll(".rp-widget [data-action]").forEach(function (button) {
    button.addEventListener("click", function () {
      var card = button.closest(".rp-widget");
      var id = card.getAttribute("data-widget");
      var action = button.getAttribute("data-action");
      if (action === "remove") {
        if (!window.confirm(root.getAttribute("data-confirm"))) { return; }
        call("DELETE", api + "/widgets/" + encodeURIComponent(id)).then(reload)
          .catch(function (error) { say(null, error); });
        return;
      }
      saveGrid(function (list) {
        var index = list.findIndex(function (w) { return w.id === id; });
        if (action === "up" && index > 0) {
          list.splice(index - 1, 0, list.splice(index, 1)[0]);
        } else if (action === "down" && index < list.length - 1) {
          list.splice(index + 1, 0, list.splice(index, 1)[0]);
        } else if (action === "resize") {
          list[index].width = WIDTHS[(WIDTHS.indexOf(list[index].width) + 1) % WIDTHS.length];
        }
      });
    });
  });

  var addForm = root.querySelector("[data-form=add]");
  if (addForm) {
    var kind = addForm.elements.kind;
    var showOptions = function () {
      addForm.querySelectorAll("[data-option]").forEach(function (field) {
        var kinds = field.getAttribute("data-option").split(" ");
        field.classList.toggle("hidden", kinds.indexOf(kind.value) < 0);
      });
    };
    kind.addEventListener("change", showOptions);
    showOptions();
    addForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var f = addForm.elements;
      var options = {};
      if (f.kind.value === "trend") { options.bucket = f.bucket.value; }
      if (f.kind.value === "nps_by") { options.group_by = f.group_by.value; }
      if (f.kind.value === "distribution") { options.by = f.by.value; }
      if (f.kind.value === "crosstab") { options.rows = f.group_by.value; options.cols = f.by.value; }
      var body = { kind: f.kind.value, title: f.title.value, options: options };
      if (f.width.value) { body.width = Number(f.width.value); }
      call("POST", api + "/widgets", body).then(reload).catch(function (error) { say(addForm, error); });
    });
  }

  var settings = root.querySelector("[data-form=settings]");
  if (settings) {
    settings.addEventListener("submit", function (event) {
      event.preventDefault();
      var f = settings.elements;
      var filters = {};
      ["period", "survey_id", "channel", "touchpoint", "journey_stage", "language"].forEach(function (name) {
        if (f[name] && f[name].value.trim()) { filters[name] = f[name].value.trim(); }
      });
      call("PUT", api, { name: f.name.value, shared: f.shared.checked, filters: filters })
        .then(reload).catch(function (error) { say(settings, error); });
    });
    var remove = settings.querySelector("[data-action=delete-dashboard]");
    remove.addEventListener("click", function () {
      if (!window.confirm(remove.getAttribute("data-confirm"))) { return; }
      call("DELETE", api).then(function () { window.location.href = "/dashboards"; })
        .catch(function (error) { say(settings, error); });
    });
  }
})();
