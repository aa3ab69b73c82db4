"""What the ticket tests share: buying through the API and localstripe, the stack's mail sink
(bin/mail-sink keeps each message as <Message-ID>.eml and logs every receipt), QR decoding with
zbarimg, and making codes with the stack's own key (to name a ticket that does not exist)."""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

from conftest import ROOT, TEST_DATA, wait_until
from payments_support import GOOD_CARD, payment_method
from test_cart_api import ADDRESS

MAIL_DIR = Path(os.environ.get("ENCORE_MAIL_DIR", str(TEST_DATA / "mail")))
KEY_FILE = Path(os.environ.get("ENCORE_TICKET_KEY_FILE", str(TEST_DATA / "secrets" / "ticket-signing.key")))
CODE_PATTERN = r"^T1[A-Z2-7]{52}$"


def online(tag: str = "tickets") -> dict:
    return {"method": "online", "email": f"{tag}-{uuid.uuid4().hex[:10]}@example.test"}


PRINTED = {"method": "printed", "address": ADDRESS}


def buy(customer, items: list[tuple[str, str, int]], delivery: dict) -> dict:
    """A checkout of `items` with `delivery`, paid with a good card: its first order, completed."""
    for concert_id, level_id, quantity in items:
        response = customer.post("/api/cart/items", json={"concertId": concert_id, "ticketLevelId": level_id,
                                                          "quantity": quantity})
        assert response.status_code == 201, response.text
    assert customer.put("/api/cart/delivery", json=delivery).status_code == 200
    response = customer.post("/api/cart/confirm")
    assert response.status_code == 201, response.text
    checkout = response.json()["checkout"]
    paid = customer.post(f"/api/checkouts/{checkout['id']}/pay", json={"paymentMethod": payment_method(GOOD_CARD)})
    assert paid.status_code == 200 and paid.json()["outcome"]["status"] == "paid", paid.text
    return paid.json()["checkout"]["orders"][0]


def tickets_of(customer, order_id: str, count: int, timeout: float = 30) -> list[dict]:
    """The order's tickets, once the process manager has issued all `count` of them."""
    def issued():
        tickets = customer.get("/api/tickets", params={"orderId": order_id}).json()["tickets"]
        return tickets if len(tickets) == count else None
    return wait_until(issued, timeout, 0.2, f"{count} tickets of order {order_id}")


def delivery_of(session, order_id: str) -> dict:
    response = session.get(f"/api/orders/{order_id}/delivery")
    assert response.status_code == 200, response.text
    return response.json()["delivery"]


def receipts() -> list[dict]:
    """Every message the sink received, in order (a message sent twice appears twice)."""
    log = MAIL_DIR / "received.jsonl"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def message_id(order_id: str, base_url: str) -> str:
    from urllib.parse import urlparse
    return f"tickets-{order_id}@{urlparse(base_url).hostname}"


def wait_for_message(message_id: str, timeout: float = 60) -> email.message.EmailMessage:
    path = MAIL_DIR / (message_id + ".eml")
    wait_until(path.exists, timeout, 0.2, f"the e-mail {message_id} in the sink")
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def zbarimg() -> str | None:
    return shutil.which("zbarimg")


def decode_qr(png: bytes, tmp_path: Path) -> str:
    """What a QR image says, read by zbar (Debian's zbar-tools)."""
    path = tmp_path / f"qr-{uuid.uuid4().hex}.png"
    path.write_bytes(png)
    result = subprocess.run([zbarimg(), "--quiet", "--raw", str(path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def code_for(ticket_id: str) -> str:
    """A correctly signed code, made with the test stack's key (README, "Tickets": the format)."""
    key = KEY_FILE.read_text().strip().split(",")[0].encode()
    raw = uuid.UUID(ticket_id).bytes
    mac = hmac.new(key, b"encore-ticket-v1" + raw, hashlib.sha256).digest()[:16]
    return "T1" + base64.b32encode(raw + mac).decode().rstrip("=")


def restart_mail_sink() -> None:
    """Starts the stack's sink again, as bin/test does (same port, same folder)."""
    script = f'source "{ROOT}/bin/lib.sh"; stack_init test; mailsink_start'
    subprocess.run(["bash", "-c", script], check=True, capture_output=True, timeout=60)


def stop_mail_sink() -> None:
    script = f'source "{ROOT}/bin/lib.sh"; stack_init test; mailsink_stop'
    subprocess.run(["bash", "-c", script], check=True, capture_output=True, timeout=60)
