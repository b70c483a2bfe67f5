/* Rule editor: builds a rule's conditions (with one level of nested groups) and actions,
   tests it on recent responses (POST /api/v1/rules/dry-run) and saves it through
   /api/v1/rules. The JSON is the one documented in tickets/rules.py; the API validates it
   and its 422 names the exact place (conditions.2.score.min), shown next to the form. */
(function () {
  "use strict";

  var dataNode = document.getElementById("rule-editor-data");
  var form = document.getElementById("rule-form");
  if (!dataNode || !form) return;
  var D = JSON.parse(dataNode.textContent);
  var S = D.strings || {};
  var condRoot = document.getElementById("re-conditions");
  var actRoot = document.getElementById("re-actions");
  var statusNode = document.getElementById("re-status");
  var errorsNode = document.getElementById("re-errors");

  var VALUES = {
    category: ["promoter", "passive", "detractor"],
    sentiment: ["negative", "neutral", "positive"],
    language: ["zh-CN", "en"],
    nps_type: ["strategic", "relationship", "touchpoint"],
    lifecycle: ["acquisition", "retention", "conversion", "referral"]
  };
  var SET_OPS = ["in", "not_in"];
  var ATTR_OPS = ["eq", "neq", "in", "not_in", "contains", "gt", "gte", "lt", "lte", "exists", "not_exists"];

  var t = window.npsloopUI.translate(S);
  var el = window.npsloopUI.el;
  function select(options, value, onChange, label) {
    var s = el("select", label ? { "aria-label": label } : {});
    options.forEach(function (o) {
      var opt = el("option", { value: o[0], text: o[1] });
      if (String(o[0]) === String(value)) opt.selected = true;
      s.appendChild(opt);
    });
    s.addEventListener("change", function () { onChange(s.value); });
    return s;
  }
  function input(type, value, onInput, attrs) {
    var i = el("input", Object.assign({ type: type }, attrs || {}));
    i.value = value === undefined || value === null ? "" : value;
    i.addEventListener("input", function () { onInput(i.value); });
    return i;
  }
  function splitList(text) {
    return String(text || "").split(/[,，;；、\n]/).map(function (s) { return s.trim(); }).filter(Boolean);
  }
  function checks(all, chosen, labelOf, onChange) {
    var box = el("span", { className: "checks" });
    all.forEach(function (value) {
      var c = el("input", { type: "checkbox", value: value });
      c.checked = chosen.indexOf(value) >= 0;
      c.addEventListener("change", function () {
        var picked = Array.prototype.filter.call(box.querySelectorAll("input"), function (x) { return x.checked; })
          .map(function (x) { return x.value; });
        onChange(picked);
      });
      box.appendChild(el("label", { className: "check" }, [c, " " + labelOf(value)]));
    });
    return box;
  }
  function opLabel(op) { return t("tickets.editor.op." + op); }
  function valueLabel(v) { return t("tickets.editor.v." + v); }

  // ---- the model ----
  var initial = D.rule || {
    name: "", description: "", enabled: true, match: "all", stop_processing: false,
    conditions: [{ field: "category", op: "in", values: ["detractor"] }],
    actions: { ticket: { priority: "P2", routing: { mode: "fixed" }, followup_days: 7 },
               notify_channel_ids: [], tags: [], contact_tags: [], webhook_endpoint_ids: [] }
  };
  var rule = JSON.parse(JSON.stringify(initial));
  rule.actions = rule.actions || {};
  ["notify_channel_ids", "tags", "contact_tags", "webhook_endpoint_ids"].forEach(function (k) {
    rule.actions[k] = rule.actions[k] || [];
  });

  function defaultCondition(field) {
    switch (field) {
      case "score": return { field: field, min: 0, max: 6 };
      case "driver": return { field: field, key: D.drivers[0] || "", min: 1, max: 2 };
      case "sentiment": return { field: field, labels: ["negative"] };
      case "keyword": return { field: field, op: "contains_any", values: [] };
      case "attribute": return { field: field, key: D.attributes[0] || "", op: "eq", value: "" };
      case "tag": return { field: field, op: "any", values: [] };
      case "group": return { field: field, match: "any", conditions: [defaultCondition("category")] };
      case "category": return { field: field, op: "in", values: ["detractor"] };
      default: return { field: field, op: "in", values: [] };
    }
  }

  // ---- conditions ----
  function renderGroup(group, depth, container) {
    container.textContent = "";
    var box = el("div", { className: "re-group" });
    box.appendChild(el("div", { className: "re-match" }, [
      t("tickets.editor.match_label"),
      select([["all", t("tickets.editor.match_all")], ["any", t("tickets.editor.match_any")]], group.match || "all",
        function (v) { group.match = v; }, t("tickets.editor.match_label"))
    ]));
    group.conditions.forEach(function (cond, index) {
      box.appendChild(renderCondition(group, cond, index, depth, container));
    });
    var adds = el("div", { className: "re-add" });
    var add = el("button", { type: "button", className: "button small", text: "+ " + t("tickets.editor.add") });
    add.addEventListener("click", function () { group.conditions.push(defaultCondition("category")); renderGroup(group, depth, container); });
    adds.appendChild(add);
    if (depth === 0) {
      var addGroup = el("button", { type: "button", className: "button small", text: "+ " + t("tickets.editor.add_group") });
      addGroup.addEventListener("click", function () { group.conditions.push(defaultCondition("group")); renderGroup(group, depth, container); });
      adds.appendChild(addGroup);
    }
    box.appendChild(adds);
    container.appendChild(box);
  }

  function renderCondition(group, cond, index, depth, container) {
    var row = el("div", { className: "re-cond", "data-index": String(index) });
    var fields = D.fields.filter(function (f) { return f !== "group" || depth === 0; });
    row.appendChild(select(fields.map(function (f) { return [f, t("tickets.editor.f." + f)]; }), cond.field, function (v) {
      group.conditions[index] = defaultCondition(v);
      renderGroup(group, depth, container);
    }, t("tickets.editor.field")));
    var f = cond.field;
    if (f === "group") {
      var inner = el("div", { className: "re-nested" });
      renderGroup(cond, depth + 1, inner);
      row.appendChild(inner);
    } else if (f === "score" || f === "driver") {
      if (f === "driver") {
        row.appendChild(select(D.drivers.map(function (k) { return [k, k]; }), cond.key, function (v) { cond.key = v; }, t("tickets.editor.f.driver")));
      }
      var lim = f === "score" ? { min: "0", max: "10", step: "1" } : { min: "0", max: "10", step: "0.5" };
      row.appendChild(el("span", { text: t("tickets.editor.from") }));
      row.appendChild(input("number", cond.min, function (v) { cond.min = Number(v); }, Object.assign({ "aria-label": t("tickets.editor.from") }, lim)));
      row.appendChild(el("span", { text: t("tickets.editor.to") }));
      row.appendChild(input("number", cond.max, function (v) { cond.max = Number(v); }, Object.assign({ "aria-label": t("tickets.editor.to") }, lim)));
    } else if (f === "sentiment") {
      row.appendChild(checks(VALUES.sentiment, cond.labels || [], valueLabel, function (v) { cond.labels = v; }));
    } else if (VALUES[f]) {
      row.appendChild(select(SET_OPS.map(function (o) { return [o, opLabel(o)]; }), cond.op || "in", function (v) { cond.op = v; }));
      row.appendChild(checks(VALUES[f], cond.values || [], valueLabel, function (v) { cond.values = v; }));
    } else if (f === "survey") {
      row.appendChild(select(SET_OPS.map(function (o) { return [o, opLabel(o)]; }), cond.op || "in", function (v) { cond.op = v; }));
      row.appendChild(checks(D.surveys.map(function (s) { return s.id; }), cond.values || [], function (id) {
        var s = D.surveys.filter(function (x) { return x.id === id; })[0];
        return s ? s.name : id;
      }, function (v) { cond.values = v; }));
    } else if (f === "topic") {
      row.appendChild(select(SET_OPS.map(function (o) { return [o, opLabel(o)]; }), cond.op || "in", function (v) { cond.op = v; }));
      row.appendChild(checks(D.topics.map(function (x) { return x.key; }), cond.values || [], function (key) {
        var x = D.topics.filter(function (y) { return y.key === key; })[0];
        return x ? x.name : key;
      }, function (v) { cond.values = v; }));
    } else if (f === "keyword" || f === "tag" || f === "touchpoint") {
      var ops = f === "keyword" ? ["contains_any", "contains_none"] : (f === "tag" ? ["any", "all", "none"] : SET_OPS);
      row.appendChild(select(ops.map(function (o) { return [o, opLabel(o)]; }), cond.op || ops[0], function (v) { cond.op = v; }));
      var list = input("text", (cond.values || []).join(", "), function (v) { cond.values = splitList(v); },
        { className: "wide", placeholder: t("tickets.editor.list_hint"), "aria-label": t("tickets.editor.f." + f) });
      if (f === "touchpoint" && D.touchpoints.length) list.setAttribute("placeholder", D.touchpoints.join(", "));
      row.appendChild(list);
    } else if (f === "attribute") {
      var keyInput = input("text", cond.key, function (v) { cond.key = v.trim(); },
        { list: "re-attribute-keys", "aria-label": t("tickets.editor.key"), placeholder: t("tickets.editor.key") });
      row.appendChild(keyInput);
      var valueBox = el("span", { className: "row" });
      var drawValue = function () {
        valueBox.textContent = "";
        if (cond.op === "exists" || cond.op === "not_exists") return;
        if (cond.op === "in" || cond.op === "not_in") {
          valueBox.appendChild(input("text", (cond.values || []).join(", "), function (v) { cond.values = splitList(v); },
            { className: "wide", placeholder: t("tickets.editor.list_hint"), "aria-label": t("tickets.editor.value") }));
        } else {
          valueBox.appendChild(input("text", cond.value, function (v) {
            var numeric = ["gt", "gte", "lt", "lte"].indexOf(cond.op) >= 0 && v.trim() !== "" && !isNaN(Number(v));
            cond.value = numeric ? Number(v) : v;
          }, { "aria-label": t("tickets.editor.value"), placeholder: t("tickets.editor.value") }));
        }
      };
      row.appendChild(select(ATTR_OPS.map(function (o) { return [o, opLabel(o)]; }), cond.op || "eq", function (v) {
        cond.op = v;
        if (v === "in" || v === "not_in") { cond.values = cond.values || []; delete cond.value; }
        else if (v === "exists" || v === "not_exists") { delete cond.value; delete cond.values; }
        else { cond.value = cond.value === undefined ? "" : cond.value; delete cond.values; }
        drawValue();
      }));
      row.appendChild(valueBox);
      drawValue();
    }
    if (group.conditions.length > 1) {
      var remove = el("button", { type: "button", className: "button small re-remove", text: t("tickets.editor.remove") });
      remove.addEventListener("click", function () { group.conditions.splice(index, 1); renderGroup(group, depth, container); });
      row.appendChild(remove);
    }
    return row;
  }

  // ---- actions ----
  function idChecks(items, chosen, onChange, emptyKey) {
    if (!items.length) return el("p", { className: "muted small", text: t(emptyKey) });
    return checks(items.map(function (x) { return x.id; }), chosen, function (id) {
      var x = items.filter(function (y) { return y.id === id; })[0];
      return x ? x.name + (x.kind ? " (" + x.kind + ")" : "") : id;
    }, onChange);
  }
  function labelled(text, control) { return el("label", {}, [text, control]); }

  function renderActions() {
    actRoot.textContent = "";
    var a = rule.actions;
    var ticketBox = el("fieldset", { className: "re-action" });
    var on = el("input", { type: "checkbox", id: "re-ticket-on" });
    on.checked = !!a.ticket;
    on.addEventListener("change", function () {
      a.ticket = on.checked ? { priority: "P2", routing: { mode: "fixed" }, followup_days: 7 } : null;
      renderActions();
    });
    ticketBox.appendChild(el("legend", {}, [el("label", { className: "check" }, [on, " " + t("tickets.editor.a.ticket")])]));
    if (a.ticket) {
      var tk = a.ticket;
      tk.routing = tk.routing || { mode: "fixed" };
      var defaults = D.sla_defaults[tk.priority || "P2"];
      var grid = el("div", { className: "form-grid" });
      grid.appendChild(labelled(t("tickets.editor.a.priority"), select(["P0", "P1", "P2", "P3"].map(function (p) { return [p, p]; }),
        tk.priority || "P2", function (v) { tk.priority = v; renderActions(); })));
      grid.appendChild(labelled(t("tickets.editor.a.routing"), select(["fixed", "round_robin"].map(function (m) {
        return [m, t("tickets.rules.routing." + m)];
      }), tk.routing.mode === "attribute" ? "fixed" : tk.routing.mode, function (v) {
        tk.routing = { mode: v, team_id: tk.routing.team_id || null };
        renderActions();
      })));
      var teamOptions = [["", t("tickets.editor.a.none")]].concat(D.teams.map(function (x) { return [x.id, x.name]; }));
      grid.appendChild(labelled(t("tickets.editor.a.team"), select(teamOptions, tk.routing.team_id || "", function (v) { tk.routing.team_id = v || null; })));
      if (tk.routing.mode === "fixed") {
        var userOptions = [["", t("tickets.editor.a.none")]].concat(D.users.map(function (x) { return [x.id, x.name]; }));
        grid.appendChild(labelled(t("tickets.editor.a.owner"), select(userOptions, tk.routing.owner_id || "", function (v) { tk.routing.owner_id = v || null; })));
      }
      grid.appendChild(labelled(t("tickets.editor.a.first_hours"), input("number", tk.first_response_hours, function (v) {
        tk.first_response_hours = v === "" ? null : Number(v);
      }, { min: "0.5", step: "0.5", placeholder: String(defaults[0]) })));
      grid.appendChild(labelled(t("tickets.editor.a.resolution_hours"), input("number", tk.resolution_hours, function (v) {
        tk.resolution_hours = v === "" ? null : Number(v);
      }, { min: "1", step: "1", placeholder: String(defaults[1]) })));
      grid.appendChild(labelled(t("tickets.editor.a.followup_days"), input("number", tk.followup_days === undefined ? 7 : tk.followup_days, function (v) {
        tk.followup_days = v === "" ? 0 : Number(v);
      }, { min: "0", max: "365" })));
      ticketBox.appendChild(grid);
    }
    actRoot.appendChild(ticketBox);

    var notify = el("fieldset", { className: "re-action" }, [el("legend", { text: t("tickets.editor.a.notify") })]);
    notify.appendChild(idChecks(D.channels, a.notify_channel_ids, function (v) { a.notify_channel_ids = v; }, "tickets.editor.a.no_channels"));
    actRoot.appendChild(notify);

    var tags = el("fieldset", { className: "re-action" });
    var tagGrid = el("div", { className: "form-grid" });
    tagGrid.appendChild(labelled(t("tickets.editor.a.tags"), input("text", a.tags.join(", "), function (v) { a.tags = splitList(v); },
      { placeholder: t("tickets.editor.list_hint") })));
    tagGrid.appendChild(labelled(t("tickets.editor.a.contact_tags"), input("text", a.contact_tags.join(", "), function (v) { a.contact_tags = splitList(v); },
      { placeholder: t("tickets.editor.list_hint") })));
    tags.appendChild(tagGrid);
    actRoot.appendChild(tags);

    var hooks = el("fieldset", { className: "re-action" }, [el("legend", { text: t("tickets.editor.a.webhooks") })]);
    hooks.appendChild(idChecks(D.webhooks, a.webhook_endpoint_ids, function (v) { a.webhook_endpoint_ids = v; }, "tickets.editor.a.no_webhooks"));
    actRoot.appendChild(hooks);
  }

  // ---- plain fields ----
  Array.prototype.forEach.call(form.querySelectorAll("[data-field]"), function (node) {
    var key = node.getAttribute("data-field");
    if (node.type === "checkbox") {
      node.checked = !!rule[key];
      node.addEventListener("change", function () { rule[key] = node.checked; });
    } else {
      node.value = rule[key] || "";
      node.addEventListener("input", function () { rule[key] = node.value; });
    }
  });
  var keys = el("datalist", { id: "re-attribute-keys" });
  D.attributes.forEach(function (k) { keys.appendChild(el("option", { value: k })); });
  form.appendChild(keys);

  // ---- talking to the API ----
  function body() {
    var b = JSON.parse(JSON.stringify(rule));
    delete b.id;
    if (!b.actions.ticket) delete b.actions.ticket;
    else {
      ["first_response_hours", "resolution_hours"].forEach(function (k) {
        if (b.actions.ticket[k] === null || b.actions.ticket[k] === undefined || isNaN(b.actions.ticket[k])) delete b.actions.ticket[k];
      });
      var r = b.actions.ticket.routing;
      Object.keys(r).forEach(function (k) { if (r[k] === null || r[k] === "") delete r[k]; });
    }
    return b;
  }
  function request(method, url, payload) {
    return fetch(url, {
      method: method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": D.csrf },
      body: payload === undefined ? undefined : JSON.stringify(payload)
    }).then(function (r) {
      return r.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = { detail: text }; }
        return { ok: r.ok, status: r.status, data: data };
      });
    });
  }
  function showErrors(data) {
    errorsNode.textContent = "";
    var detail = data && data.detail;
    var items = Array.isArray(detail) ? detail.map(function (e) {
      var loc = (e.loc || []).filter(function (p) { return p !== "body"; }).join(".");
      return (loc ? loc + ": " : "") + e.msg;
    }) : [String(detail || "error")];
    errorsNode.appendChild(el("strong", { text: t("tickets.editor.errors") }));
    var ul = el("ul");
    items.forEach(function (m) { ul.appendChild(el("li", { text: m })); });
    errorsNode.appendChild(ul);
    errorsNode.hidden = false;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    errorsNode.hidden = true;
    statusNode.textContent = t("tickets.editor.saving");
    var saving = D.rule ? request("PATCH", "/api/v1/rules/" + D.rule.id, body()) : request("POST", "/api/v1/rules", body());
    saving.then(function (res) {
      if (res.ok) {
        statusNode.textContent = t("tickets.editor.saved");
        window.location.assign("/tickets/rules");
      } else {
        statusNode.textContent = "";
        showErrors(res.data);
      }
    });
  });

  var del = document.getElementById("re-delete");
  if (del && D.rule) {
    del.addEventListener("click", function () {
      if (!window.confirm(t("tickets.editor.delete_confirm"))) return;
      request("DELETE", "/api/v1/rules/" + D.rule.id).then(function (res) {
        if (res.ok) window.location.assign("/tickets/rules");
        else showErrors(res.data);
      });
    });
  }

  var testButton = document.getElementById("re-test");
  var testResult = document.getElementById("re-test-result");
  var testItems = document.getElementById("re-test-items");
  testButton.addEventListener("click", function () {
    errorsNode.hidden = true;
    testResult.textContent = t("tickets.editor.testing");
    testItems.textContent = "";
    var b = body();
    if (!b.name) b.name = "test";
    request("POST", "/api/v1/rules/dry-run", b).then(function (res) {
      testResult.textContent = "";
      if (!res.ok) { showErrors(res.data); return; }
      var d = res.data;
      testResult.appendChild(el("strong", { text: String(d.matched) }));
      testResult.appendChild(document.createTextNode(t("tickets.editor.test_result", { matched: d.matched, scanned: d.scanned })));
      if (d.without_analysis) {
        testResult.appendChild(el("div", { className: "muted small", text: t("tickets.editor.test_unanalysed", { n: d.without_analysis }) }));
      }
      d.items.slice(0, 10).forEach(function (item) {
        testItems.appendChild(el("li", {}, [
          el("span", { className: "score-badge " + item.category, text: String(item.score) }), " ",
          el("span", { className: "muted", text: item.submitted_at.slice(0, 10) }), " ",
          el("span", { text: item.comment || "—" })
        ]));
      });
    });
  });

  renderGroup(rule, 0, condRoot);
  renderActions();
})();
