// The door's ticket scanner (/admin/concerts/{id}/check-in): reads QR codes with the camera
// where the browser has BarcodeDetector, or takes a typed code or ticket number, and checks
// each in through POST /api/check-ins. A large green or red answer; the running count.
(function () {
  "use strict";
  var root = document.getElementById("scanner");
  if (!root) return;
  var concertId = root.getAttribute("data-concert-id");
  var csrf = document.getElementById("csrf").value;
  var result = document.getElementById("result");
  var countIn = document.getElementById("count-in");
  var countIssued = document.getElementById("count-issued");
  var gate = document.getElementById("gate");
  var busy = false;
  var lastCode = "";
  var lastAt = 0;

  function show(ok, title, detail) {
    result.hidden = false;
    result.className = "scanner__result " + (ok ? "scanner__result--ok" : "scanner__result--no");
    result.textContent = "";
    var strong = document.createElement("strong");
    strong.textContent = title;
    result.appendChild(strong);
    if (detail) {
      var p = document.createElement("p");
      p.textContent = detail;
      result.appendChild(p);
    }
    if (navigator.vibrate) navigator.vibrate(ok ? 80 : [200, 100, 200]);
  }

  function refreshCount() {
    fetch("/api/concerts/" + encodeURIComponent(concertId) + "/check-ins", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body) return;
        countIn.textContent = body.checkIns.checkedIn;
        countIssued.textContent = body.checkIns.issued - body.checkIns.void;
      })
      .catch(function () {});
  }

  function checkIn(text) {
    var value = text.trim();
    if (!value || busy) return;
    // The camera sees a code many times a second: one check per code every few seconds.
    var now = Date.now();
    if (value === lastCode && now - lastAt < 4000) return;
    lastCode = value;
    lastAt = now;
    busy = true;
    var looksLikeNumber = /^EN-/i.test(value);
    var body = looksLikeNumber ? { number: value } : { code: value };
    if (gate.value.trim()) body.gate = gate.value.trim();
    fetch("/api/check-ins", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body)
    })
      .then(function (r) { return r.json().then(function (b) { return { status: r.status, body: b }; }); })
      .then(function (answer) {
        if (answer.status === 200) {
          var t = answer.body.ticket;
          show(true, "Welcome in", t.levelName + " · " + t.holder + " · " + t.number);
          countIn.textContent = String(Number(countIn.textContent) + 1);
        } else {
          var e = answer.body.error || {};
          var titles = {
            already_checked_in: "Already in",
            ticket_void: "Void ticket",
            invalid_code: "Not our ticket",
            unknown_ticket: "Unknown ticket"
          };
          show(false, titles[e.code] || "Not checked in", e.message || "");
        }
      })
      .catch(function () { show(false, "No connection", "Try again."); })
      .then(function () { busy = false; });
  }

  document.getElementById("manual").addEventListener("submit", function (event) {
    event.preventDefault();
    var input = document.getElementById("manual-code");
    lastCode = "";
    checkIn(input.value);
    input.value = "";
    input.focus();
  });

  // The camera, where the browser can read QR codes by itself.
  var startButton = document.getElementById("camera-start");
  if ("BarcodeDetector" in window && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
    startButton.hidden = false;
    var stream = null;
    var video = document.getElementById("camera-video");
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    var scan = function () {
      if (!stream) return;
      detector.detect(video)
        .then(function (codes) { if (codes.length) checkIn(codes[0].rawValue); })
        .catch(function () {})
        .then(function () { if (stream) window.setTimeout(scan, 200); });
    };
    startButton.addEventListener("click", function () {
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } })
        .then(function (s) {
          stream = s;
          video.srcObject = s;
          video.play();
          document.getElementById("camera").hidden = false;
          startButton.hidden = true;
          scan();
        })
        .catch(function () { show(false, "No camera", "Type the code or the ticket number below."); });
    });
    document.getElementById("camera-stop").addEventListener("click", function () {
      if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
      stream = null;
      document.getElementById("camera").hidden = true;
      startButton.hidden = false;
    });
  }

  window.setInterval(refreshCount, 5000);
})();
