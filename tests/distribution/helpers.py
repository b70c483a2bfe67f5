"""Shared set-up for distribution tests: a local SMTP inbox, contacts, a segment, channels."""

from __future__ import annotations

import re
import socket
from email import message_from_bytes, policy
from typing import Any

from aiosmtpd.controller import Controller

from npsloop.notify import delivery
from npsloop.notify.service import secret_box

FAST = delivery.DeliveryPolicy(base_delay=0.05, max_delay=0.2, max_attempts=3, batch_size=50)
LINK = re.compile(r"https?://[^/\s\"<>]+(/i/[A-Za-z0-9._-]+)")
UNSUB = re.compile(r"https?://[^/\s\"<>]+(/u/[A-Za-z0-9._-]+)")


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Any]] = []
        self.refuse: set[str] = set()  # mailboxes that do not exist (permanent 550)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append((list(envelope.rcpt_tos),
                              message_from_bytes(envelope.original_content,
                                                 policy=policy.default)))
        return "250 OK"

    def to(self, address: str) -> Any:
        return next(m for rcpt, m in self.messages if address in rcpt)


def start_smtp() -> tuple[Controller, int, Inbox]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, port, inbox


def email_channel(client, org, port: int) -> str:
    response = client.post("/api/v1/notify/channels", headers=org.headers, json={
        "kind": "email", "name": "Customer mail", "config": {
            "host": "127.0.0.1", "port": port, "security": "none",
            "from_address": "hello@shop.example.test", "timeout_seconds": 5}})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def contacts_and_segment(client, org, count: int = 3, *, phone: bool = False) -> str:
    """`count` gold contacts (C-0 prefers English) with email (and phone), one free contact,
    and the segment "Gold"; returns the segment id."""
    people = [{"external_id": f"C-{i}", "email": f"c{i}@example.test",
               "name": f"Customer {i}", "language": "en" if i == 0 else "zh-CN",
               "attributes": {"plan": "gold", "city": "Hangzhou"},
               **({"phone": f"1380000000{i}"} if phone else {})} for i in range(count)]
    people.append({"external_id": "FREE", "email": "free@example.test",
                   "attributes": {"plan": "free"}})
    response = client.post("/api/v1/contacts/batch", json={"contacts": people},
                           headers=org.headers)
    assert response.status_code == 200, response.text
    segment = client.post("/api/v1/segments", headers=org.headers, json={
        "name": "Gold", "rules": {"match": "all", "conditions": [
            {"field": "attribute", "key": "plan", "operator": "equals", "value": "gold"}]}})
    assert segment.status_code == 201, segment.text
    return segment.json()["id"]


def deliver_all(factory, settings) -> None:
    """Runs notify's delivery worker until the queue is empty."""
    box = secret_box(settings)
    while delivery.run_once(factory, "test-delivery", FAST, box):
        pass
