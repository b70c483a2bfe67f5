/* Segments: the list fills in live counts; the builder edits nested AND/OR rule groups,
   previews the count and a sample as you type (POST /api/v1/segments/preview) and saves
   through /api/v1/segments. The rule JSON is the one documented in contacts/segment_rules.py. */
(function () {
  "use strict";

  // ---- list page: counts load after the page, one request per segment ----
  Array.prototype.forEach.call(document.querySelectorAll("[data-segment-count]"), function (node) {
    fetch("/api/v1/segments/" + node.getAttribute("data-segment-count") + "/count", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) { node.textContent = body ? Number(body.count).toLocaleString() : "—"; })
      .catch(function () { node.textContent = "—"; });
  });

  var dataNode = document.getElementById("segment-data");
  var form = document.getElementById("segment-form");
  if (!dataNode || !form) return;
  var D = JSON.parse(dataNode.textContent);
  var S = D.strings || {};
  var root = document.getElementById("rule-root");
  var attrTypes = {};
  D.attributes.forEach(function (a) { attrTypes[a.key] = a.type; });
  var MAX_DEPTH = 3;
  var NO_VALUE = ["is_set", "is_not_set", "is_true", "is_false"];
  var DAY_OPS = ["within_last_days", "more_than_days_ago", "within_next_days"];

  function t(key, params) {
    var text = S[key] || key;
    Object.keys(params || {}).forEach(function (n) { text = text.split("{" + n + "}").join(String(params[n])); });
    return text;
  }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === "text") node.textContent = attrs[name];
      else if (name === "className") node.className = attrs[name];
      else node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }
  function option(value, label, selected) {
    var o = el("option", { value: value, text: label });
    if (selected) o.selected = true;
    return o;
  }
  function splitList(text) {
    return String(text || "").split(/[,，;；、\n]/).map(function (s) { return s.trim(); }).filter(Boolean);
  }

  // ---- the model: a group is {match, conditions}; a condition has a field ----
  var initial = (D.segment && D.segment.rules) || { match: "all", conditions: [] };
  var model = JSON.parse(JSON.stringify(initial));
  if (!model.conditions || !model.conditions.length) model.conditions = [defaultCondition()];

  function defaultCondition() {
    if (D.attributes.length) {
      var a = D.attributes[0];
      return { field: "attribute", key: a.key, operator: D.attributeOperators[a.type][0] };
    }
    return { field: "tags", operator: "has_any", value: [] };
  }
  function isGroup(node) { return node && node.conditions && !node.field; }
  function operatorsFor(cond) {
    if (cond.field === "attribute") return D.attributeOperators[attrTypes[cond.key]] || [];
    return D.fieldOperators[cond.field] || [];
  }
  function fieldKey(cond) { return cond.field === "attribute" ? "attr:" + cond.key : cond.field; }

  function fieldSelect(cond, onChange) {
    var select = el("select", { className: "field-select", "aria-label": t("segments.builder.field") });
    if (D.attributes.length) {
      var attrs = el("optgroup", { label: t("segments.group.attributes") });
      D.attributes.forEach(function (a) {
        attrs.appendChild(option("attr:" + a.key, (a.label || a.key) + " · " + t("contacts.type." + a.type)));
      });
      select.appendChild(attrs);
    }
    var profile = el("optgroup", { label: t("segments.group.profile") });
    ["tags", "lifecycle_stage", "language", "email", "phone", "created_at"].forEach(function (f) {
      profile.appendChild(option(f, t("segments.field." + f)));
    });
    select.appendChild(profile);
    var behaviour = el("optgroup", { label: t("segments.group.behaviour") });
    ["event", "survey_response", "channel"].forEach(function (f) {
      behaviour.appendChild(option(f, t("segments.field." + f)));
    });
    select.appendChild(behaviour);
    select.value = fieldKey(cond);
    select.addEventListener("change", function () {
      var v = select.value;
      var next = v.indexOf("attr:") === 0 ? { field: "attribute", key: v.slice(5) } : { field: v };
      next.operator = operatorsFor(next)[0];
      if (next.field === "event") { next.name = D.events[0] || ""; next.count = 1; next.days = 30; }
      if (next.field === "survey_response") next.days = 90;
      onChange(next);
    });
    return select;
  }

  function input(type, value, attrs, onInput) {
    var node = el("input", Object.assign({ type: type }, attrs || {}));
    if (value !== undefined && value !== null) node.value = value;
    node.addEventListener("input", function () { onInput(node.value); });
    return node;
  }
  function numberOrRaw(text) { return text === "" || isNaN(Number(text)) ? text : Number(text); }
  function wholeOrRaw(text) { return /^\d+$/.test(text) ? parseInt(text, 10) : (text === "" ? null : text); }

  function checkboxes(choices, labelFor, selected, onChange) {
    var box = el("div", { className: "check-row" });
    choices.forEach(function (choice) {
      var cb = el("input", { type: "checkbox", value: choice });
      cb.checked = (selected || []).indexOf(choice) >= 0;
      cb.addEventListener("change", function () {
        onChange(Array.prototype.filter.call(box.querySelectorAll("input"), function (i) { return i.checked; })
          .map(function (i) { return i.value; }));
      });
      box.appendChild(el("label", { className: "check-pill" }, [cb, el("span", { text: labelFor(choice) })]));
    });
    return box;
  }

  function listInput(values, suggestions, placeholder, onChange) {
    var id = "dl-" + Math.random().toString(36).slice(2);
    var node = input("text", (values || []).join(", "), { list: id, placeholder: placeholder, className: "list-input" },
      function (v) { onChange(splitList(v)); });
    var dl = el("datalist", { id: id });
    (suggestions || []).forEach(function (s) { dl.appendChild(option(s, s)); });
    return el("span", { className: "grow" }, [node, dl]);
  }

  function daysInput(cond, key, optional) {
    return el("label", { className: "inline days" }, [
      el("span", { text: optional ? t("segments.in_last") : "" }),
      input("number", cond[key], { min: "1", max: "3650", step: "1", className: "days-input",
        placeholder: optional ? t("segments.any_time") : "" }, function (v) {
        if (optional && v === "") delete cond[key]; else cond[key] = wholeOrRaw(v);
        changed();
      }),
      el("span", { text: t("segments.days") })
    ]);
  }

  function valueEditor(cond) {
    var op = cond.operator;
    var box = el("div", { className: "value-editor" });
    function set(v) { cond.value = v; changed(); }
    if (NO_VALUE.indexOf(op) >= 0 || cond.field === "email" || cond.field === "phone") return box;
    if (cond.field === "event") {
      box.appendChild(listInputSingle(cond));
      box.appendChild(input("number", cond.count || 1, { min: "1", step: "1", className: "count-input",
        "aria-label": t("segments.times") }, function (v) { cond.count = wholeOrRaw(v); changed(); }));
      box.appendChild(el("span", { className: "muted", text: t("segments.times") }));
      box.appendChild(daysInput(cond, "days", true));
      return box;
    }
    if (cond.field === "survey_response") {
      var survey = el("select", { "aria-label": t("segments.field.survey") });
      survey.appendChild(option("", t("segments.any_survey")));
      D.surveys.forEach(function (s) { survey.appendChild(option(s.id, s.name, s.id === cond.survey_id)); });
      survey.addEventListener("change", function () {
        if (survey.value) cond.survey_id = survey.value; else delete cond.survey_id;
        changed();
      });
      box.appendChild(survey);
      box.appendChild(daysInput(cond, "days", true));
      box.appendChild(checkboxes(["promoter", "passive", "detractor"], function (c) { return t("contacts.category." + c); },
        cond.categories, function (list) { if (list.length) cond.categories = list; else delete cond.categories; changed(); }));
      return box;
    }
    if (cond.field === "channel") {
      box.appendChild(checkboxes(D.channels, function (c) { return c; }, cond.value, set));
      box.appendChild(daysInput(cond, "days", true));
      return box;
    }
    if (cond.field === "tags") {
      box.appendChild(listInput(cond.value, D.tags, t("segments.tags_placeholder"), set));
      return box;
    }
    if (cond.field === "lifecycle_stage" || cond.field === "language") {
      var choices = cond.field === "lifecycle_stage" ? D.stages : D.languages;
      var label = function (c) { return t((cond.field === "lifecycle_stage" ? "contacts.stage." : "contacts.language.") + c); };
      if (op === "in" || op === "not_in") {
        box.appendChild(checkboxes(choices, label, cond.value, set));
      } else {
        var select = el("select", {});
        choices.forEach(function (c) { select.appendChild(option(c, label(c), c === cond.value)); });
        if (!cond.value) cond.value = choices[0];
        select.addEventListener("change", function () { set(select.value); });
        box.appendChild(select);
      }
      return box;
    }
    var kind = cond.field === "created_at" ? "date" : attrTypes[cond.key];
    if (DAY_OPS.indexOf(op) >= 0) {
      box.appendChild(input("number", cond.value, { min: "1", max: "3650", className: "days-input" },
        function (v) { set(wholeOrRaw(v)); }));
      box.appendChild(el("span", { className: "muted", text: t("segments.days") }));
      return box;
    }
    if (op === "between") {
      var pair = Array.isArray(cond.value) ? cond.value.slice() : ["", ""];
      var type = kind === "date" ? "date" : "number";
      [0, 1].forEach(function (i) {
        box.appendChild(input(type, pair[i], { step: "any" }, function (v) {
          pair[i] = type === "number" ? numberOrRaw(v) : v;
          set(pair.slice());
        }));
        if (i === 0) box.appendChild(el("span", { className: "muted", text: t("segments.and") }));
      });
      return box;
    }
    if (op === "in" || op === "not_in") {
      box.appendChild(listInput(cond.value, [], t("segments.list_placeholder"), set));
      return box;
    }
    if (kind === "number") {
      box.appendChild(input("number", cond.value, { step: "any" }, function (v) { set(numberOrRaw(v)); }));
    } else if (kind === "date") {
      box.appendChild(input("date", cond.value, {}, set));
    } else {
      box.appendChild(input("text", cond.value, { maxlength: "500", className: "grow" }, set));
    }
    return box;
  }

  function listInputSingle(cond) {
    var id = "ev-" + Math.random().toString(36).slice(2);
    var node = input("text", cond.name, { list: id, placeholder: t("segments.event_placeholder"), className: "event-input" },
      function (v) { cond.name = v.trim(); changed(); });
    var dl = el("datalist", { id: id });
    D.events.forEach(function (e) { dl.appendChild(option(e, e)); });
    return el("span", {}, [node, dl]);
  }

  function conditionNode(cond, path, onReplace, onRemove) {
    var row = el("div", { className: "cond-row", "data-path": path });
    var ops = operatorsFor(cond);
    if (ops.indexOf(cond.operator) < 0) cond.operator = ops[0];
    var opSelect = el("select", { className: "op-select", "aria-label": t("segments.builder.operator") });
    ops.forEach(function (op) { opSelect.appendChild(option(op, t("segments.op." + op), op === cond.operator)); });
    opSelect.addEventListener("change", function () {
      cond.operator = opSelect.value;
      if (["in", "not_in", "between"].indexOf(cond.operator) >= 0 || DAY_OPS.indexOf(cond.operator) >= 0) delete cond.value;
      onReplace(cond);
    });
    var remove = el("button", { type: "button", className: "icon-btn", title: t("segments.remove"), "aria-label": t("segments.remove"), text: "×" });
    remove.addEventListener("click", onRemove);
    row.appendChild(fieldSelect(cond, onReplace));
    row.appendChild(opSelect);
    row.appendChild(valueEditor(cond));
    row.appendChild(remove);
    row.appendChild(el("div", { className: "cond-error field-error", hidden: "hidden" }));
    return row;
  }

  function groupNode(group, path, depth, onRemove) {
    var box = el("div", { className: "rule-group depth-" + depth, "data-path": path });
    var match = el("select", { className: "match-select", "aria-label": t("segments.builder.match") });
    match.appendChild(option("all", t("segments.match.all"), group.match !== "any"));
    match.appendChild(option("any", t("segments.match.any"), group.match === "any"));
    match.addEventListener("change", function () { group.match = match.value; redraw(); });
    var head = el("div", { className: "group-head" }, [
      el("span", { text: t("segments.builder.match_prefix") }), match, el("span", { text: t("segments.builder.match_suffix") })]);
    if (onRemove) {
      var drop = el("button", { type: "button", className: "button link small", text: t("segments.remove_group") });
      drop.addEventListener("click", onRemove);
      head.appendChild(el("span", { className: "spacer" }));
      head.appendChild(drop);
    }
    box.appendChild(head);
    var list = el("div", { className: "group-body" });
    group.conditions.forEach(function (child, i) {
      var childPath = path + ".conditions." + i;
      if (i > 0) list.appendChild(el("div", { className: "joiner", text: t("segments.joiner." + (group.match === "any" ? "any" : "all")) }));
      var remove = function () { group.conditions.splice(i, 1); redraw(); };
      if (isGroup(child)) {
        list.appendChild(groupNode(child, childPath, depth + 1, remove));
      } else {
        list.appendChild(conditionNode(child, childPath, function (next) { group.conditions[i] = next; redraw(); }, remove));
      }
    });
    box.appendChild(list);
    var addCond = el("button", { type: "button", className: "small", text: "+ " + t("segments.add_condition") });
    addCond.addEventListener("click", function () { group.conditions.push(defaultCondition()); redraw(); });
    var foot = el("div", { className: "group-foot" }, [addCond]);
    if (depth < MAX_DEPTH) {
      var addGroup = el("button", { type: "button", className: "small", text: "+ " + t("segments.add_group") });
      addGroup.addEventListener("click", function () {
        group.conditions.push({ match: group.match === "any" ? "all" : "any", conditions: [defaultCondition()] });
        redraw();
      });
      foot.appendChild(addGroup);
    }
    box.appendChild(foot);
    return box;
  }

  function redraw() {
    root.innerHTML = "";
    root.appendChild(groupNode(model, "rules", 1, null));
    changed();
  }

  // ---- preview ----
  var timer = null;
  var seq = 0;
  var countNode = document.getElementById("preview-count");
  var shareNode = document.getElementById("preview-share");
  var barNode = document.getElementById("preview-bar");
  var errorsNode = document.getElementById("preview-errors");
  var sampleNode = document.getElementById("preview-sample");

  function changed() {
    clearTimeout(timer);
    timer = setTimeout(preview, 350);
  }
  function send(method, url, body) {
    return fetch(url, { method: method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": D.csrf },
      body: body === undefined ? undefined : JSON.stringify(body) })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (json) { return { status: r.status, json: json }; });
      });
  }
  function markErrors(detail) {
    Array.prototype.forEach.call(root.querySelectorAll(".cond-row"), function (row) {
      row.classList.remove("invalid");
      var box = row.querySelector(".cond-error");
      box.hidden = true;
      box.textContent = "";
    });
    var messages = [];
    (detail || []).forEach(function (d) {
      var loc = (d.loc || []).slice(1).join(".");
      var rows = Array.prototype.filter.call(root.querySelectorAll(".cond-row"), function (row) {
        var p = row.getAttribute("data-path");
        return loc === p || loc.indexOf(p + ".") === 0;
      });
      if (rows.length) {
        rows[0].classList.add("invalid");
        var box = rows[0].querySelector(".cond-error");
        box.hidden = false;
        box.textContent = d.msg;
      } else {
        messages.push(d.msg);
      }
    });
    return messages;
  }
  function preview() {
    var mine = ++seq;
    countNode.classList.add("loading");
    send("POST", "/api/v1/segments/preview", { rules: model, sample_size: 8 }).then(function (answer) {
      if (mine !== seq) return;
      countNode.classList.remove("loading");
      if (answer.status !== 200) {
        var rest = markErrors(answer.json.detail);
        countNode.textContent = "—";
        shareNode.textContent = "";
        barNode.style.width = "0";
        errorsNode.hidden = false;
        errorsNode.textContent = rest.length ? rest.join(" · ") : t("segments.preview.fix");
        sampleNode.innerHTML = "";
        return;
      }
      markErrors([]);
      errorsNode.hidden = true;
      var body = answer.json;
      countNode.textContent = Number(body.count).toLocaleString();
      var share = D.everyone ? body.count / D.everyone : 0;
      shareNode.textContent = t("segments.preview.share", { total: Number(D.everyone).toLocaleString(), pct: (share * 100).toFixed(1) });
      barNode.style.width = Math.min(100, share * 100).toFixed(1) + "%";
      sampleNode.innerHTML = "";
      if (!body.sample.length) sampleNode.appendChild(el("li", { className: "muted", text: t("segments.preview.nobody") }));
      body.sample.forEach(function (c) {
        var link = el("a", { href: "/contacts/" + c.id, text: c.name || c.external_id });
        var meta = [c.name ? c.external_id : "", c.email, c.lifecycle_stage ? t("contacts.stage." + c.lifecycle_stage) : ""].filter(Boolean).join(" · ");
        sampleNode.appendChild(el("li", {}, [el("span", { className: "sample-avatar", text: (c.name || c.external_id).slice(0, 1).toUpperCase() }),
          el("div", {}, [link, el("div", { className: "muted small", text: meta })])]));
      });
    }).catch(function () { countNode.classList.remove("loading"); });
  }

  // ---- save / delete ----
  var status = document.getElementById("save-status");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var body = { name: form.elements.name.value.trim(), description: form.elements.description.value.trim(), rules: model };
    var nameError = form.querySelector("[data-error-for=name]");
    nameError.hidden = true;
    if (!body.name) {
      nameError.textContent = t("segments.name_required");
      nameError.hidden = false;
      form.elements.name.focus();
      return;
    }
    status.textContent = t("segments.saving");
    var id = D.segment && D.segment.id;
    send(id ? "PATCH" : "POST", id ? "/api/v1/segments/" + id : "/api/v1/segments", body).then(function (answer) {
      if (answer.status === 200 || answer.status === 201) {
        window.location.href = "/contacts/segments?saved=1";
        return;
      }
      status.textContent = "";
      var detail = answer.json.detail || [];
      var rest = markErrors(detail.filter(function (d) { return (d.loc || [])[1] !== "name"; }));
      detail.filter(function (d) { return (d.loc || [])[1] === "name"; }).forEach(function (d) {
        nameError.textContent = d.msg;
        nameError.hidden = false;
      });
      if (rest.length) { errorsNode.hidden = false; errorsNode.textContent = rest.join(" · "); }
    }).catch(function () { status.textContent = t("segments.network"); });
  });
  var del = document.getElementById("delete-segment");
  if (del) {
    del.addEventListener("click", function () {
      if (!window.confirm(del.getAttribute("data-confirm"))) return;
      send("DELETE", "/api/v1/segments/" + D.segment.id).then(function (answer) {
        if (answer.status === 204) window.location.href = "/contacts/segments";
      });
    });
  }

  redraw();
})();
