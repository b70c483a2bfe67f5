/* Referrals. Two independent parts, each active only when its markup is on the page:
   1. the invitation on the survey thank-you page: copy the link + message, save the QR code,
      the device share sheet; each tells the server it happened (POST /r/{code}/shared) so
      the funnel can count "shared";
   2. the referral analytics page: funnel and weekly activity charts (ECharts), drawn from the
      JSON the page embeds in <script type="application/json" id="referrals-data">;
   3. the lifecycle page: monthly NPS per stage and stage moves per month (id="lifecycle-data"). */
(function () {
  "use strict";

  // ---- 1. the thank-you page invitation -------------------------------------------------
  var invite = document.querySelector(".rf-invite");
  if (invite) {
    var endpoint = invite.getAttribute("data-share-endpoint");
    var status = invite.querySelector(".rf-status");

    var ping = function (method) {
      if (!endpoint || !window.fetch) { return; }
      try {
        window.fetch(endpoint, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ method: method }),
          keepalive: true,
          credentials: "omit"
        }).catch(function () { /* counting is best effort */ });
      } catch (err) { /* old browsers */ }
    };

    var say = function (text) {
      if (status) { status.textContent = text; }
    };

    var copyButton = invite.querySelector(".rf-copy");
    if (copyButton) {
      var original = copyButton.textContent;
      copyButton.addEventListener("click", function () {
        var text = copyButton.getAttribute("data-copy-text") || "";
        var done = function () {
          copyButton.textContent = copyButton.getAttribute("data-copied-label") || original;
          copyButton.classList.add("done");
          say(copyButton.getAttribute("data-copied-status") || "");
          ping("copy");
          window.setTimeout(function () {
            copyButton.textContent = original;
            copyButton.classList.remove("done");
          }, 2200);
        };
        var fallback = function () {
          var field = invite.querySelector(".rf-link");
          var area = document.createElement("textarea");
          area.value = text;
          area.setAttribute("readonly", "");
          area.style.position = "fixed";
          area.style.opacity = "0";
          document.body.appendChild(area);
          area.select();
          var ok = false;
          try { ok = document.execCommand("copy"); } catch (err) { ok = false; }
          document.body.removeChild(area);
          if (ok) { done(); } else {
            if (field) { field.focus(); field.select(); }
            say(copyButton.getAttribute("data-failed-label") || "");
          }
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(done, fallback);
        } else {
          fallback();
        }
      });
    }

    var link = invite.querySelector(".rf-link");
    if (link) {
      link.addEventListener("focus", function () { link.select(); });
    }

    var save = invite.querySelector("[data-share='qr']");
    if (save) {
      save.addEventListener("click", function () { ping("qr"); });
    }

    var native = invite.querySelector("[data-share='native']");
    if (native && navigator.share) {
      native.hidden = false;
      native.addEventListener("click", function () {
        navigator.share({
          title: native.getAttribute("data-share-title") || document.title,
          text: native.getAttribute("data-share-text") || "",
          url: native.getAttribute("data-share-url") || ""
        }).then(function () { ping("native"); }, function () { /* cancelled */ });
      });
    }
  }

  // ---- 2 and 3: charts of the signed-in pages --------------------------------------------
  if (typeof window.echarts === "undefined") { return; }
  var css = getComputedStyle(document.documentElement);
  var token = function (name, fallback) { return css.getPropertyValue(name).trim() || fallback; };
  var color = {
    primary: token("--primary", "#3d5afe"),
    promoter: token("--promoter", "#12a867"),
    passive: token("--passive", "#f2a516"),
    text: token("--text-2", "#3b4558"),
    muted: token("--muted", "#6b7487"),
    grid: "#eef1f6"
  };
  var stageColors = { acquisition: "#3d5afe", conversion: "#f2a516", retention: "#12a867",
                      referral: "#a855f7", unknown: "#98a1b3" };
  var font = token("--font", "sans-serif");
  var charts = [];
  var tooltip = {
    backgroundColor: "#fff", borderColor: "#e4e8f0", borderWidth: 1, padding: [8, 10],
    textStyle: { color: color.text, fontFamily: font, fontSize: 12 },
    extraCssText: "box-shadow: 0 8px 24px rgba(16,24,40,.12); border-radius: 10px;"
  };
  var legend = { top: 0, right: 0, icon: "roundRect", itemWidth: 10, itemHeight: 10,
                 textStyle: { color: color.muted, fontSize: 12 } };
  var axisX = function (values) {
    return { type: "category", data: values, axisLine: { lineStyle: { color: "#dfe3ec" } },
             axisTick: { show: false }, axisLabel: { color: color.muted, fontSize: 11 } };
  };
  var axisY = function (extra) {
    return Object.assign({ type: "value", splitLine: { lineStyle: { color: color.grid } },
                           axisLabel: { color: color.muted, fontSize: 11 } }, extra || {});
  };
  var mount = function (id, option) {
    var node = document.getElementById(id);
    if (!node) { return; }
    var chart = window.echarts.init(node, null, { renderer: "canvas" });
    chart.setOption(option);
    charts.push(chart);
  };
  var read = function (id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  };

  var data = read("referrals-data");
  if (data) {
    var labels = data.labels || {};
    var steps = data.funnel || [];
    if (steps.length) {
      mount("referral-funnel-chart", {
        textStyle: { fontFamily: font },
        tooltip: Object.assign({ trigger: "item", formatter: function (p) {
          return p.name + ": <b>" + p.value.toLocaleString() + "</b>";
        } }, tooltip),
        grid: { left: 8, right: 56, top: 8, bottom: 8, containLabel: true },
        xAxis: { type: "value", show: false },
        yAxis: { type: "category", inverse: true, data: steps.map(function (s) { return s.label; }),
                 axisLine: { show: false }, axisTick: { show: false },
                 axisLabel: { color: color.text, fontSize: 12.5 } },
        series: [{
          type: "bar", barWidth: 22,
          data: steps.map(function (s, i) {
            var shades = [color.primary, "#5b74ff", "#8093ff", color.promoter];
            return { value: s.value, itemStyle: { color: shades[i % shades.length], borderRadius: [0, 6, 6, 0] } };
          }),
          label: { show: true, position: "right", color: color.text, fontWeight: 600,
                   formatter: function (p) { return p.value.toLocaleString(); } }
        }]
      });
    }
    var weeks = data.weekly || [];
    if (weeks.length) {
      mount("referral-weekly-chart", {
        textStyle: { fontFamily: font },
        color: ["#c9d2ff", color.primary, color.promoter],
        tooltip: Object.assign({ trigger: "axis" }, tooltip),
        legend: legend,
        grid: { left: 8, right: 12, top: 32, bottom: 8, containLabel: true },
        xAxis: axisX(weeks.map(function (w) { return w.week; })),
        yAxis: axisY({ minInterval: 1 }),
        series: [
          { name: labels.asked, type: "bar", barMaxWidth: 14, itemStyle: { borderRadius: [3, 3, 0, 0] },
            data: weeks.map(function (w) { return w.asked; }) },
          { name: labels.visits, type: "line", smooth: true, symbolSize: 5,
            data: weeks.map(function (w) { return w.visits; }) },
          { name: labels.conversions, type: "line", smooth: true, symbolSize: 5,
            data: weeks.map(function (w) { return w.conversions; }) }
        ]
      });
    }
  }

  var life = read("lifecycle-data");
  if (life) {
    var names = life.labels || {};
    var stages = life.stages || [];
    var months = [];
    (life.trend || []).forEach(function (p) {
      var m = p.month.slice(0, 7);
      if (months.indexOf(m) < 0) { months.push(m); }
    });
    months.sort();
    if (months.length) {
      mount("lifecycle-nps-chart", {
        textStyle: { fontFamily: font },
        tooltip: Object.assign({ trigger: "axis", valueFormatter: function (v) {
          return v === null || v === undefined ? "—" : Number(v).toFixed(1);
        } }, tooltip),
        legend: legend,
        grid: { left: 8, right: 12, top: 32, bottom: 8, containLabel: true },
        xAxis: axisX(months),
        yAxis: axisY({
          min: function (v) { return Math.max(-100, Math.floor((v.min - 10) / 10) * 10); },
          max: function (v) { return Math.min(100, Math.ceil((v.max + 10) / 10) * 10); }
        }),
        series: stages.map(function (stage) {
          var byMonth = {};
          life.trend.forEach(function (p) {
            if (p.stage === stage) { byMonth[p.month.slice(0, 7)] = p; }
          });
          return { name: names[stage], type: "line", smooth: 0.3, symbolSize: 5, connectNulls: true,
                   itemStyle: { color: stageColors[stage] }, lineStyle: { color: stageColors[stage], width: 2 },
                   data: months.map(function (m) {
                     var p = byMonth[m];
                     return p && p.n >= 10 ? p.nps : null;
                   }) };
        })
      });
    }
    var moves = life.moves || [];
    if (moves.length) {
      mount("lifecycle-moves-chart", {
        textStyle: { fontFamily: font },
        tooltip: Object.assign({ trigger: "axis" }, tooltip),
        legend: legend,
        grid: { left: 8, right: 12, top: 32, bottom: 8, containLabel: true },
        xAxis: axisX(moves.map(function (m) { return m.month; })),
        yAxis: axisY({ minInterval: 1 }),
        series: stages.map(function (stage) {
          return { name: names[stage], type: "bar", stack: "moves", barMaxWidth: 22,
                   itemStyle: { color: stageColors[stage] },
                   data: moves.map(function (m) { return m[stage]; }) };
        })
      });
    }
  }

  window.addEventListener("resize", function () {
    charts.forEach(function (chart) { chart.resize(); });
  });
})();
