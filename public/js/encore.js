// Encore: small progressive enhancements. Every page works without this file.
// Loaded with <script src="/js/encore.js" defer>; no inline scripts (the CSP forbids them).
(function () {
  "use strict";

  // <form data-confirm="Cancel this concert?"> asks before it submits.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  // A submitted form's buttons are disabled, so a double click does not submit twice.
  document.addEventListener("submit", function (event) {
    if (event.defaultPrevented) return;
    var buttons = event.target.querySelectorAll("button[type=submit], button:not([type])");
    window.setTimeout(function () {
      buttons.forEach(function (b) { b.disabled = true; b.setAttribute("aria-busy", "true"); });
    }, 0);
  });

  // <time datetime="2026-06-01T18:00:00Z" data-local> shows the visitor's local time.
  document.querySelectorAll("time[data-local]").forEach(function (el) {
    var when = new Date(el.getAttribute("datetime"));
    if (isNaN(when)) return;
    el.textContent = when.toLocaleString(undefined, {
      weekday: "short", day: "numeric", month: "short", year: "numeric",
      hour: "2-digit", minute: "2-digit"
    });
  });
})();
