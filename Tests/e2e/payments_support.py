"""What the payment tests share: the test stack's localstripe (its API as Stripe's, and
Encore's webhook registration with it), cards, and signed webhook deliveries."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
import uuid

import requests

STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "http://127.0.0.1:8421").rstrip("/")
WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "whsec_encore_test_local")
SECRET_KEY = "sk_test_encore_e2e"

GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000341"


def stripe(method: str, path: str, **form) -> dict:
    """A call to localstripe's Stripe API with the test's secret key; the JSON answer."""
    response = requests.request(method, STRIPE_API_BASE + path, data=form,
                                headers={"Authorization": f"Bearer {SECRET_KEY}"}, timeout=15)
    return response.json()


def payment_method(number: str) -> str:
    """A card PaymentMethod's id, as Stripe.js makes one in the browser."""
    answer = stripe("POST", "/v1/payment_methods", **{"type": "card", "card[number]": number, "card[exp_month]": "12",
                                                      "card[exp_year]": "2034", "card[cvc]": "123"})
    assert answer.get("id", "").startswith("pm_"), answer
    return answer["id"]


def intent(intent_id: str) -> dict:
    return stripe("GET", f"/v1/payment_intents/{intent_id}")


def register_webhook(url: str) -> None:
    """Points localstripe's deliveries for Encore at `url` (Encore's own, or nowhere)."""
    response = requests.post(f"{STRIPE_API_BASE}/_config/webhooks/encore", data={"url": url, "secret": WEBHOOK_SECRET},
                             timeout=10)
    assert response.status_code == 200, response.text


def signed(event: dict, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> tuple[bytes, dict]:
    """A webhook delivery's body and headers, signed as Stripe signs them."""
    body = json.dumps(event).encode()
    t = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return body, {"Content-Type": "application/json", "Stripe-Signature": f"t={t},v1={signature}"}


def intent_event(kind: str, pi: dict, status: str, event_id: str | None = None, **extra) -> dict:
    """A `payment_intent.*` event about an intent, with its status as given."""
    obj = {"id": pi["id"], "object": "payment_intent", "amount": pi["amount"], "currency": pi["currency"],
           "status": status, "client_secret": pi.get("client_secret"), "metadata": pi.get("metadata", {}), **extra}
    return {"id": event_id or f"evt_{uuid.uuid4().hex}", "object": "event", "type": kind, "created": int(time.time()),
            "livemode": False, "data": {"object": obj}}
