/* Tickets pages: select-all and the bulk bar in the inbox, tabs and confirmations on the
   ticket page. Loaded as a file (CSP allows no inline scripts). */
(function () {
  "use strict";

  var form = document.getElementById("bulk-form");
  if (form) {
    var boxes = form.querySelectorAll('input[name="ticket_ids"]');
    var all = form.querySelector("[data-select-all]");
    var bar = form.querySelector("[data-bulk-bar]");
    var count = form.querySelector("[data-bulk-count]");
    var hint = count ? count.textContent : "";
    var refresh = function () {
      var n = 0;
      boxes.forEach(function (box) { if (box.checked) { n += 1; } });
      form.querySelectorAll("[data-needs-selection]").forEach(function (button) {
        button.disabled = n === 0;
      });
      if (bar) { bar.classList.toggle("has-selection", n > 0); }
      if (count) { count.textContent = n ? count.getAttribute("data-template").replace("{n}", n) : hint; }
      if (all) { all.checked = n > 0 && n === boxes.length; all.indeterminate = n > 0 && n < boxes.length; }
    };
    if (all) {
      all.addEventListener("change", function () {
        boxes.forEach(function (box) { box.checked = all.checked; });
        refresh();
      });
    }
    boxes.forEach(function (box) { box.addEventListener("change", refresh); });
    refresh();
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-confirm]") : null;
    if (button && !window.confirm(button.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });

  document.querySelectorAll("[data-tabs]").forEach(function (tabs) {
    var card = tabs.parentElement;
    tabs.querySelectorAll("[data-tab]").forEach(function (tab) {
      tab.addEventListener("click", function () {
        var name = tab.getAttribute("data-tab");
        tabs.querySelectorAll("[data-tab]").forEach(function (other) {
          var on = other === tab;
          other.classList.toggle("active", on);
          other.setAttribute("aria-selected", on ? "true" : "false");
        });
        card.querySelectorAll("[data-panel]").forEach(function (panel) {
          panel.hidden = panel.getAttribute("data-panel") !== name;
        });
      });
    });
  });
})();
