/* Survey pages: copy buttons, and the editor's add / remove / reorder of question rows.
 *
 * Progressive enhancement: every editing button is a real submit button the server handles
 * (name="action"), so the editor works without JavaScript. Here the same buttons act in the
 * page instead, without a round trip. Rows are named by a random row id, never by position,
 * so moving a row never renames a field.
 */
(function () {
  "use strict";

  function uid() {
    var bytes = new Uint8Array(4);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  /* ---- copy to clipboard (the list and the share panel) ---------------------------- */

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    // Plain-http intranet hosts have no clipboard API: fall back to a selected textarea.
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy failed"));
  }

  function initCopyButtons() {
    var buttons = document.querySelectorAll("[data-copy-target], [data-copy-text]");
    Array.prototype.forEach.call(buttons, function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var text = button.getAttribute("data-copy-text");
        if (text === null) {
          var input = document.getElementById(button.getAttribute("data-copy-target"));
          text = input ? input.value : "";
          if (input) { input.select(); }
        }
        copyText(text).then(function () {
          var label = button.querySelector("span");
          var before = label ? label.textContent : button.title;
          button.classList.add("copied");
          if (label) { label.textContent = button.getAttribute("data-copied"); }
          button.title = button.getAttribute("data-copied");
          window.setTimeout(function () {
            button.classList.remove("copied");
            if (label) { label.textContent = before; }
            button.title = before;
          }, 1600);
        }, function () { /* the text stays selected for Ctrl+C */ });
      });
    });
  }

  /* ---- the editor -------------------------------------------------------------------- */

  function fromTemplate(id, replacements) {
    var template = document.getElementById(id);
    if (!template) { return null; }
    var html = template.innerHTML;
    Object.keys(replacements).forEach(function (token) {
      html = html.split(token).join(replacements[token]);
    });
    var holder = document.createElement("template");
    holder.innerHTML = html.trim();
    return holder.content.firstElementChild;
  }

  function setValue(root, name, value) {
    var input = root.querySelector('[name="' + name + '"]');
    if (input) { input.value = value; }
  }

  function initEditor(form) {
    var list = document.getElementById("q-list");
    var catalogSelect = document.getElementById("driver-catalog");
    var catalogData = document.getElementById("driver-catalog-data");
    var catalog = catalogData ? JSON.parse(catalogData.textContent) : {};
    var dirty = false;
    var submitting = false;

    function activeLanguages() {
      var codes = [];
      form.querySelectorAll("[data-language-toggle]").forEach(function (box) {
        if (box.checked) { codes.push(box.value); }
      });
      return codes;
    }

    function syncLanguages() {
      var active = activeLanguages();
      form.querySelectorAll(".lang-col[data-lang]").forEach(function (col) {
        col.classList.toggle("lang-off", active.indexOf(col.getAttribute("data-lang")) < 0);
      });
      var select = form.querySelector('select[name="default_language"]');
      if (select && active.length && active.indexOf(select.value) < 0) {
        select.value = active[0];
      }
    }

    function usedDriverKeys() {
      var keys = {};
      form.querySelectorAll('.q-row[data-kind="driver_rating"] input[name$=".key"]')
        .forEach(function (input) { keys[input.value] = true; });
      return keys;
    }

    function syncCatalog() {
      if (!catalogSelect) { return; }
      var used = usedDriverKeys();
      var firstFree = null;
      Array.prototype.forEach.call(catalogSelect.options, function (option) {
        option.disabled = option.value !== "" && !!used[option.value];
        if (!option.disabled && firstFree === null) { firstFree = option.value; }
      });
      var current = catalogSelect.options[catalogSelect.selectedIndex];
      if (current && current.disabled && firstFree !== null) { catalogSelect.value = firstFree; }
    }

    function syncEmpty() {
      var empty = document.getElementById("q-empty");
      var hasRows = list && list.children.length > 0;
      if (!hasRows && !empty && list) {
        empty = document.createElement("p");
        empty.id = "q-empty";
        empty.className = "q-empty muted";
        empty.textContent = list.getAttribute("data-empty-text");
        list.parentNode.insertBefore(empty, list.nextSibling);
      } else if (hasRows && empty) {
        empty.parentNode.removeChild(empty);
      }
    }

    function changed() {
      dirty = true;
      syncEmpty();
      syncCatalog();
    }

    function addRow(kind, driverKey) {
      var rowId = uid();
      var row = fromTemplate("tpl-" + kind, { "__UID__": rowId, "__OUID__": uid() });
      if (!row || !list) { return; }
      var entry = driverKey ? catalog[driverKey] : null;
      if (entry) {
        setValue(row, "q." + rowId + ".key", driverKey);
        Object.keys(entry.labels).forEach(function (code) {
          setValue(row, "q." + rowId + ".text." + code, entry.labels[code]);
        });
      }
      list.appendChild(row);
      syncLanguages();
      changed();
      var focusTarget = entry ? null : row.querySelector('.lang-col:not(.lang-off) input[type="text"]');
      if (focusTarget) { focusTarget.focus(); }
      row.scrollIntoView({ block: "nearest", behavior: "smooth" });
    }

    function addOption(row) {
      var rowId = row.getAttribute("data-uid");
      var option = fromTemplate("tpl-option", { "__UID__": rowId, "__OUID__": uid() });
      var options = row.querySelector(".opt-list");
      if (!option || !options) { return; }
      options.appendChild(option);
      syncLanguages();
      changed();
      var first = option.querySelector('.lang-col:not(.lang-off) input[type="text"]');
      if (first) { first.focus(); }
    }

    form.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-editor]");
      if (!button || !form.contains(button)) { return; }
      event.preventDefault();
      var what = button.getAttribute("data-editor");
      var row = button.closest(".q-row");
      if (what === "add") {
        addRow(button.getAttribute("data-kind"), null);
      } else if (what === "add-driver") {
        var key = catalogSelect ? catalogSelect.value : "";
        addRow("driver_rating", catalog[key] ? key : null);
      } else if (what === "up" && row && row.previousElementSibling) {
        row.parentNode.insertBefore(row, row.previousElementSibling);
        button.focus();
        changed();
      } else if (what === "down" && row && row.nextElementSibling) {
        row.parentNode.insertBefore(row.nextElementSibling, row);
        button.focus();
        changed();
      } else if (what === "remove" && row) {
        row.parentNode.removeChild(row);
        changed();
      } else if (what === "add-option" && row) {
        addOption(row);
      } else if (what === "remove-option") {
        var option = button.closest(".opt-row");
        if (option) { option.parentNode.removeChild(option); changed(); }
      }
    });

    form.addEventListener("change", function (event) {
      dirty = true;
      if (event.target.matches("[data-language-toggle]")) { syncLanguages(); }
      if (event.target.matches("[data-followup-toggle]")) {
        var grid = document.getElementById("followup-grid");
        if (grid) { grid.classList.toggle("is-off", !event.target.checked); }
      }
      if (event.target.matches('input[name$=".key"]')) { syncCatalog(); }
    });
    form.addEventListener("input", function () { dirty = true; });
    form.addEventListener("submit", function () { submitting = true; });
    window.addEventListener("beforeunload", function (event) {
      if (dirty && !submitting) { event.preventDefault(); event.returnValue = ""; }
    });
    syncCatalog();
    // After a rejected save, bring the first field to fix into view.
    var firstInvalid = form.querySelector('[aria-invalid="true"]');
    if (firstInvalid) {
      firstInvalid.scrollIntoView({ block: "center" });
      firstInvalid.focus({ preventScroll: true });
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    initCopyButtons();
    var form = document.getElementById("survey-editor");
    if (form && !form.classList.contains("readonly")) { initEditor(form); }
  });
})();
