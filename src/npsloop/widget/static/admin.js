/* Site-key page: ask before revoking, copy the snippet with one click. */
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form instanceof HTMLFormElement ? form.getAttribute("data-confirm") : null;
    if (question && !window.confirm(question)) event.preventDefault();
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-copy]") : null;
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) return;
    source.select();
    var done = function () { button.textContent = button.getAttribute("data-copied"); };
    if (navigator.clipboard) navigator.clipboard.writeText(source.value).then(done, done);
    else { document.execCommand("copy"); done(); }
  });
})();
