/* Behaviour every page may use; loaded by base.html. No inline scripts (CSP), so pages
   opt in with data attributes:
   - <select data-autosubmit> submits its form when the choice changes. */
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
