/* Behaviour every page may use; loaded by base.html before page scripts. No inline scripts
   (CSP), so pages opt in with data attributes:
   - <select data-autosubmit> submits its form when the choice changes.
   Page scripts that build their UI share window.npsloopUI: translate(strings) and el(). */
(function () {
  "use strict";

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target instanceof HTMLSelectElement && target.hasAttribute("data-autosubmit") && target.form) {
      if (typeof target.form.requestSubmit === "function") {
        target.form.requestSubmit();
      } else {
        target.form.submit();
      }
    }
  });
})();

window.npsloopUI = {
  /* A translator over the page's strings: t("key", {n: 3}) fills {n}. */
  translate: function (strings) {
    return function (key, params) {
      var text = (strings || {})[key] || key;
      Object.keys(params || {}).forEach(function (n) { text = text.split("{" + n + "}").join(String(params[n])); });
      return text;
    };
  },
  /* el("li", {className: "x", text: "y"}, [child, "text"]) */
  el: function (tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === "text") node.textContent = attrs[name];
      else if (name === "className") node.className = attrs[name];
      else node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (c) {
      if (c) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }
};
