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

  // <span data-countdown="2026-11-27T10:09:15Z"> counts down to that time (the checkout's
  // hold); without JavaScript the page shows the seconds left when it was rendered.
  document.querySelectorAll("[data-countdown]").forEach(function (el) {
    var end = new Date(el.getAttribute("data-countdown"));
    if (isNaN(end)) return;
    function tick() {
      var left = Math.max(0, Math.round((end - new Date()) / 1000));
      var minutes = Math.floor(left / 60), seconds = left % 60;
      el.textContent = minutes + ":" + (seconds < 10 ? "0" : "") + seconds + " minutes";
      if (left === 0) {
        el.textContent = "no time: the tickets have returned to sale";
        return;
      }
      window.setTimeout(tick, 1000);
    }
    tick();
  });
})();
