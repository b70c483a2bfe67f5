/* Contact import page: check a CSV/XLSX file (dry run), adjust the column mapping, import.
   Talks to POST /api/v1/contacts/import with the session cookie and its CSRF token. */
(function () {
  "use strict";
  var form = document.getElementById("import-form");
  var dataNode = document.getElementById("import-data");
  if (!form || !dataNode) return;
  var data = JSON.parse(dataNode.textContent);
  var S = data.strings || {};
  var fileInput = document.getElementById("import-file");
  var fileName = document.getElementById("file-name");
  var statusLine = document.getElementById("import-status");
  var result = document.getElementById("import-result");
  var checkButton = document.getElementById("check-button");
  var mapping = null; // header -> target, once the user has seen the first check
  var types = {};
  var lastReport = null;

  function t(key, params) {
    var text = S[key] || key;
    Object.keys(params || {}).forEach(function (name) {
      text = text.split("{" + name + "}").join(String(params[name]));
    });
    return text;
  }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === "text") node.textContent = attrs[name];
      else if (name === "className") node.className = attrs[name];
      else node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) {
      if (child !== null && child !== undefined) node.appendChild(child);
    });
    return node;
  }
  function num(n) { return Number(n || 0).toLocaleString(); }

  fileInput.addEventListener("change", function () {
    var file = fileInput.files[0];
    fileName.textContent = file ? file.name + " · " + Math.max(1, Math.round(file.size / 1024)) + " KB"
      : t("contacts.import.choose");
    mapping = null;
    types = {};
    result.hidden = true;
  });
  form.addEventListener("change", function (event) {
    if (event.target.name === "mode" && lastReport) render(lastReport);
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    run(true);
  });

  function run(dryRun) {
    var file = fileInput.files[0];
    if (!file) {
      statusLine.textContent = t("contacts.import.need_file");
      fileInput.focus();
      return;
    }
    var body = new FormData();
    body.append("file", file);
    ["mode", "encoding", "add_tags"].forEach(function (name) {
      var field = form.elements[name];
      body.append(name, field.value !== undefined ? field.value : "");
    });
    body.append("dry_run", dryRun ? "true" : "false");
    if (mapping) body.append("mapping", JSON.stringify(mapping));
    if (Object.keys(types).length) body.append("types", JSON.stringify(types));
    statusLine.textContent = dryRun ? t("contacts.import.checking") : t("contacts.import.importing");
    setBusy(true);
    fetch("/api/v1/contacts/import", {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRF-Token": form.getAttribute("data-csrf") || "" }
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (json) {
        return { status: response.status, json: json };
      });
    }).then(function (answer) {
      setBusy(false);
      statusLine.textContent = "";
      if (answer.json && answer.json.job) {
        lastReport = answer.json;
        if (!mapping) {
          mapping = {};
          answer.json.columns.forEach(function (c) { mapping[c.header] = c.target; });
        }
        render(answer.json);
      } else {
        showProblem(answer.status, answer.json);
      }
    }).catch(function () {
      setBusy(false);
      statusLine.textContent = t("contacts.import.network");
    });
  }

  function setBusy(busy) {
    checkButton.disabled = busy;
    result.setAttribute("aria-busy", busy ? "true" : "false");
    Array.prototype.forEach.call(result.querySelectorAll("button"), function (b) { b.disabled = busy; });
  }

  function showProblem(status, json) {
    var messages = [];
    if (json && Array.isArray(json.detail)) {
      json.detail.forEach(function (d) { messages.push((d.loc || []).slice(1).join(".") + ": " + d.msg); });
    } else if (json && json.detail) {
      messages.push(String(json.detail));
    } else {
      messages.push(t("contacts.import.failed", { status: status }));
    }
    result.innerHTML = "";
    var list = el("ul", {}, messages.map(function (m) { return el("li", { text: m }); }));
    result.appendChild(el("div", { className: "alert error", role: "alert" },
      [el("strong", { text: t("contacts.import.refused") }), list]));
    result.hidden = false;
  }

  function tile(label, value, tone) {
    return el("div", { className: "stat-tile" + (tone ? " " + tone : "") },
      [el("span", { className: "stat-label", text: label }), el("span", { className: "stat-value", text: num(value) })]);
  }

  function render(report) {
    var job = report.job;
    var mode = form.elements.mode.value;
    result.innerHTML = "";
    var banner;
    if (job.status === "preview") {
      banner = el("div", { className: "alert" }, [el("strong", { text: t("contacts.import.previewed") }),
        document.createTextNode(" " + t("contacts.import.previewed_body", { rows: num(job.total_rows) }))]);
    } else if (job.status === "applied") {
      banner = el("div", { className: "alert success" }, [el("strong", { text: t("contacts.import.done") }),
        document.createTextNode(" " + t("contacts.import.done_body", { created: num(job.created_count), updated: num(job.updated_count) }))]);
    } else {
      banner = el("div", { className: "alert error" }, [el("strong", { text: t("contacts.import.rejected") }),
        document.createTextNode(" " + t("contacts.import.rejected_body", { bad: num(job.error_rows) }))]);
    }
    result.appendChild(banner);
    var tiles = el("div", { className: "stat-tiles" }, [
      tile(t("contacts.import.stat.rows"), job.total_rows),
      tile(t("contacts.import.stat.valid"), job.valid_rows, "good"),
      tile(t("contacts.import.stat.bad"), job.error_rows, job.error_rows ? "bad" : ""),
      tile(t("contacts.import.stat.new"), job.created_count),
      tile(t("contacts.import.stat.updated"), job.updated_count)
    ]);
    result.appendChild(tiles);
    if (job.status === "preview") result.appendChild(actions(job, mode));
    if (job.status === "preview") result.appendChild(mappingCard(report));
    if (report.errors.length) result.appendChild(errorsCard(report));
    if (report.sample.length && job.status === "preview") result.appendChild(sampleCard(report));
    result.hidden = false;
    result.scrollIntoView({ behavior: "smooth", block: "start" });
  }

  function targetSelect(column) {
    var current = mapping[column.header] || column.target;
    var isAttribute = current.indexOf("attribute:") === 0;
    var select = el("select", { "aria-label": t("contacts.import.map_to") + " " + column.header });
    select.appendChild(el("option", { value: "ignore", text: t("contacts.target.ignore") }));
    data.targets.forEach(function (target) {
      select.appendChild(el("option", { value: target, text: t("contacts.field." + target) }));
    });
    select.appendChild(el("option", { value: "attribute", text: t("contacts.target.attribute") }));
    select.value = isAttribute ? "attribute" : current;
    var key = el("input", { type: "text", className: "mono key-input", maxlength: "64",
      value: isAttribute ? current.slice(10) : "", "aria-label": t("contacts.import.attribute_key") });
    key.hidden = !isAttribute;
    function update() {
      key.hidden = select.value !== "attribute";
      mapping[column.header] = select.value === "attribute" ? "attribute:" + (key.value || "").trim() : select.value;
    }
    select.addEventListener("change", update);
    key.addEventListener("input", update);
    return el("div", { className: "map-target" }, [select, key]);
  }

  function typeCell(column) {
    if (!column.type) return el("span", { className: "faint", text: "—" });
    if (!column.new) {
      return el("span", { className: "type-chip", title: t("contacts.import.type_known"), text: t("contacts.type." + column.type) });
    }
    var key = column.target.slice(10);
    var select = el("select", { "aria-label": t("contacts.import.type_of") + " " + key });
    data.types.forEach(function (kind) { select.appendChild(el("option", { value: kind, text: t("contacts.type." + kind) })); });
    select.value = types[key] || column.type;
    select.addEventListener("change", function () { types[key] = select.value; });
    return el("div", { className: "row" }, [select, el("span", { className: "pill new", text: t("contacts.import.new_attribute") })]);
  }

  function mappingCard(report) {
    var rows = report.columns.map(function (column) {
      return el("tr", {}, [
        el("td", {}, [el("strong", { text: column.header || "—" })]),
        el("td", {}, [targetSelect(column)]),
        el("td", {}, [typeCell(column)])
      ]);
    });
    var table = el("table", { className: "table mapping-table" }, [
      el("thead", {}, [el("tr", {}, [el("th", { text: t("contacts.import.col.column") }),
        el("th", { text: t("contacts.import.map_to") }), el("th", { text: t("contacts.import.col.type") })])]),
      el("tbody", {}, rows)
    ]);
    var recheck = el("button", { type: "button", text: t("contacts.import.recheck") });
    recheck.addEventListener("click", function () { run(true); });
    return el("section", { className: "card" }, [
      el("div", { className: "card-head" }, [el("div", {}, [el("h2", { text: t("contacts.import.step2") }),
        el("p", { className: "muted", text: t("contacts.import.step2_help") })]), recheck]),
      el("div", { className: "table-wrap" }, [table])
    ]);
  }

  function reason(problem) {
    // The server's reason in the page's language when a translation exists.
    var key = "contacts.error." + problem.code;
    return S[key] ? t(key, problem.params || {}) : problem.reason;
  }

  function errorsCard(report) {
    var rows = report.errors.map(function (e) {
      return el("tr", {}, [el("td", { className: "num", text: num(e.row_number) }), el("td", { text: e.field }),
        el("td", { text: reason(e) }), el("td", { className: "mono small", text: e.value })]);
    });
    var head = el("div", { className: "card-head" }, [
      el("div", {}, [el("h2", { text: t("contacts.import.errors") }),
        el("p", { className: "muted", text: t("contacts.import.errors_shown", { shown: num(report.errors.length), total: num(report.errors_total) }) })]),
      el("a", { className: "button small", href: report.errors_url, text: t("contacts.import.download_errors") })
    ]);
    return el("section", { className: "card errors-card" }, [head, el("div", { className: "table-wrap" }, [
      el("table", { className: "table" }, [
        el("thead", {}, [el("tr", {}, [el("th", { className: "num", text: t("contacts.import.col.row") }),
          el("th", { text: t("contacts.import.col.column") }), el("th", { text: t("contacts.import.col.reason") }),
          el("th", { text: t("contacts.import.col.value") })])]),
        el("tbody", {}, rows)])])]);
  }

  function sampleCard(report) {
    var rows = report.sample.map(function (s) {
      var attrs = Object.keys(s.attributes || {}).map(function (k) { return k + ": " + s.attributes[k]; }).join(" · ");
      return el("tr", {}, [el("td", { className: "num", text: num(s.row) }), el("td", { className: "mono", text: s.external_id }),
        el("td", { text: [s.name, s.email, s.phone].filter(Boolean).join(" · ") || "—" }),
        el("td", { className: "small", text: attrs || "—" }), el("td", { text: (s.tags || []).join(", ") || "—" })]);
    });
    return el("section", { className: "card" }, [
      el("div", { className: "card-head" }, [el("h2", { text: t("contacts.import.sample") })]),
      el("div", { className: "table-wrap" }, [el("table", { className: "table" }, [
        el("thead", {}, [el("tr", {}, [el("th", { className: "num", text: t("contacts.import.col.row") }),
          el("th", { text: t("contacts.field.external_id") }), el("th", { text: t("contacts.import.col.reach") }),
          el("th", { text: t("contacts.import.col.attributes") }), el("th", { text: t("contacts.field.tags") })])]),
        el("tbody", {}, rows)])])]);
  }

  function actions(job, mode) {
    var blocked = mode === "all_or_nothing" && job.error_rows > 0;
    var count = job.valid_rows;
    var go = el("button", { type: "button", className: "primary",
      text: t("contacts.import.apply", { n: num(count) }) });
    go.disabled = blocked || count === 0;
    go.addEventListener("click", function () { run(false); });
    var note = blocked ? el("span", { className: "note warn", text: t("contacts.import.blocked") }) : null;
    return el("div", { className: "card actions import-actions" }, [go, note]);
  }
})();
