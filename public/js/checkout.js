// Encore's checkout: pays a held checkout by card with Stripe.js (loaded just before this file
// from the configured URL). The card's details go from the card element to the payment service,
// never to Encore: Encore gets a PaymentMethod's id (or, from a Stripe.js that has no
// createPaymentMethod, a card id from createToken), confirms the payment on the server, and only
// when the card asks for it (3-D Secure) lets Stripe.js finish with confirmCardPayment. The page
// then shows what Encore's records say, reloading until the orders are settled.
(function () {
  "use strict";
  var form = document.getElementById("payment-form");
  if (!form || typeof window.Stripe !== "function") return;
  var error = document.getElementById("payment-error");
  var button = document.getElementById("pay-button");
  var checkout = form.getAttribute("data-checkout");
  var csrf = form.getAttribute("data-csrf");
  var stripe = window.Stripe(form.getAttribute("data-publishable-key"));
  var card = stripe.elements().create("card");
  card.mount("#card-element");

  function show(message) {
    error.textContent = message;
    error.hidden = false;
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }

  function post(path, body) {
    return fetch(path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (json) {
        return { status: response.status, json: json };
      });
    });
  }

  function paymentMethod() {
    var made = stripe.createPaymentMethod ? stripe.createPaymentMethod({ type: "card", card: card }) : null;
    return Promise.resolve(made).then(function (result) {
      if (result && result.paymentMethod) return result.paymentMethod.id;
      if (result && result.error) throw new Error(result.error.message || "The card was not accepted.");
      return stripe.createToken(card).then(function (token) {
        if (token.error) throw new Error(token.error.message || "The card was not accepted.");
        return token.token.card.id;
      });
    });
  }

  function done() { window.location.assign("/checkout/" + encodeURIComponent(checkout) + "?paying=1"); }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    error.hidden = true;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    paymentMethod()
      .then(function (method) { return post("/api/checkouts/" + encodeURIComponent(checkout) + "/pay", { paymentMethod: method }); })
      .then(function (answer) {
        if (answer.status !== 200) {
          var problem = answer.json && answer.json.error;
          if (answer.status === 402 || answer.status === 409) { window.location.reload(); return; }
          throw new Error(problem ? problem.message : "The payment did not go through; try again.");
        }
        var outcome = answer.json.outcome || {};
        if (outcome.status === "requires_action") {
          return stripe.confirmCardPayment(outcome.clientSecret).then(function () {
            return post("/api/checkouts/" + encodeURIComponent(checkout) + "/sync");
          }).then(done);
        }
        done();
      })
      .catch(function (problem) { show(problem.message || String(problem)); });
  });
})();
