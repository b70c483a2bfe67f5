"""Ask-promoter campaigns (enqueued through notify and delivered to a local SMTP server) and
the lifecycle views: recorded and observed stage moves, NPS and referrals by stage."""

from __future__ import annotations

import socket
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from npsloop.core.db import utcnow
from npsloop.notify import delivery
from npsloop.notify.models import NotifyMessage
from npsloop.notify.service import secret_box
from npsloop.referrals.models import LifecycleMove, ReferralCode, ReferralEvent
from tests.analytics.helpers import add_contact, add_response
from tests.referrals.helpers import api_response


class Inbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append((list(envelope.rcpt_tos),
                              message_from_bytes(envelope.original_content,
                                                 policy=policy.default)))
        return "250 OK"


@pytest.fixture
def smtp():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, inbox
    controller.stop()


def email_channel(client, org, port: int) -> str:
    response = client.post("/api/v1/notify/channels", headers=org.headers, json={
        "kind": "email", "name": "Customer mail", "config": {
            "host": "127.0.0.1", "port": port, "security": "none",
            "from_address": "hello@shop.example.test", "timeout_seconds": 5}})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def promoters(client, org, survey) -> None:
    """Three recent promoters with email (one prefers English), one without any address,
    a recent passive and an old promoter."""
    for index, lang in enumerate(("zh-CN", "en", "zh-CN")):
        api_response(client, org, survey, 10, external_id=f"P-{index}",
                     email=f"p{index}@example.test")
        if lang == "en":
            client.post("/api/v1/contacts", headers=org.headers,
                        json={"external_id": f"P-{index}", "language": "en"})
    api_response(client, org, survey, 9, external_id="P-noaddress")
    api_response(client, org, survey, 8, external_id="PASSIVE", email="x@example.test")
    api_response(client, org, survey, 10, external_id="OLD", email="old@example.test",
                 at=utcnow() - timedelta(days=60))


def test_campaign_asks_recent_promoters_by_email(client, db, db_factory, org, survey, smtp):
    port, inbox = smtp
    channel_id = email_channel(client, org, port)
    promoters(client, org, survey)
    body = {"name": "Spring referral", "purpose": "refer", "lookback_days": 30,
            "channel_ids": [channel_id]}
    preview = client.post("/api/v1/referrals/campaigns", json={**body, "dry_run": True},
                          headers=org.headers)
    assert preview.status_code == 200, preview.text
    assert preview.json()["asked"] == 3 and preview.json()["skipped"] == {"no_address": 1}
    assert db.scalar(select(NotifyMessage.id)) is None  # a dry run sends nothing

    run = client.post("/api/v1/referrals/campaigns", json=body, headers=org.headers)
    assert run.status_code == 201, run.text
    campaign_id = run.json()["campaign_id"]
    messages = db.scalars(select(NotifyMessage)).all()
    assert sorted(m.recipients[0] for m in messages) == [
        "p0@example.test", "p1@example.test", "p2@example.test"]
    asks = db.scalars(select(ReferralEvent).where(ReferralEvent.campaign_id == campaign_id)
                      ).all()
    assert len(asks) == 3 and {a.channel for a in asks} == {"email"}
    assert {a.message_id for a in asks} == {m.id for m in messages}

    policy_ = delivery.DeliveryPolicy(base_delay=0.01, max_delay=0.02, max_attempts=2)
    delivery.run_once(db_factory, "test-worker", policy_, secret_box())
    assert len(inbox.messages) == 3
    by_rcpt = {rcpts[0]: mail for rcpts, mail in inbox.messages}
    codes = {c.referrer_external_id: c.code for c in db.scalars(select(ReferralCode))}
    english = by_rcpt["p1@example.test"]
    assert "Thank you for recommending" in english["Subject"]
    text = english.get_body(("plain",)).get_content()
    assert f"/r/{codes['P-1']}" in text and f"{codes['P-1'][:4]}-{codes['P-1'][4:]}" in text
    assert "感谢您推荐" in by_rcpt["p0@example.test"]["Subject"]

    # Asked within the cooldown: the next campaign leaves them out.
    again = client.post("/api/v1/referrals/campaigns", json=body, headers=org.headers).json()
    assert again["asked"] == 0 and again["skipped"]["recently_asked"] == 3
    listed = client.get("/api/v1/referrals/campaigns", headers=org.headers).json()["items"]
    assert [c["asked_count"] for c in listed] == [0, 3]
    # Asked promoters enter the funnel.
    funnel = client.get("/api/v1/referrals/funnel", headers=org.headers).json()["funnel"]
    assert funnel["asked"] == 3


def test_campaign_input_is_checked(client, org, make_org, survey, smtp):
    port, _ = smtp
    channel_id = email_channel(client, org, port)
    other = make_org("Other")
    chat = client.post("/api/v1/notify/channels", headers=org.headers, json={
        "kind": "webhook", "name": "Hook", "config": {"url": "http://127.0.0.1:9/hook"}})
    cases = [
        ({"channel_ids": []}, "channel_ids"),
        ({"channel_ids": ["nope"]}, "channel_ids"),
        ({"channel_ids": [channel_id], "purpose": "spam"}, "purpose"),
        ({"channel_ids": [channel_id], "purpose": "review"}, "purpose"),  # no review URL
        ({"channel_ids": [channel_id], "lookback_days": 0}, "lookback_days"),
    ]
    if chat.status_code == 201:
        cases.append(({"channel_ids": [chat.json()["id"]]}, "channel_ids"))
    for body, field in cases:
        response = client.post("/api/v1/referrals/campaigns", json=body, headers=org.headers)
        assert response.status_code == 422, (body, response.text)
        assert field in response.json()["detail"][0]["loc"]
    # Another organisation cannot use this channel.
    response = client.post("/api/v1/referrals/campaigns", json={"channel_ids": [channel_id]},
                           headers=other.headers)
    assert response.status_code == 422


def test_review_campaign_links_to_the_review_page(client, db, org, survey, smtp):
    port, _ = smtp
    channel_id = email_channel(client, org, port)
    client.put("/api/v1/referrals/settings", headers=org.headers,
               json={"review_url": "https://reviews.example.test/freshgo"})
    api_response(client, org, survey, 10, external_id="P-0", email="p0@example.test")
    run = client.post("/api/v1/referrals/campaigns", headers=org.headers, json={
        "purpose": "review", "channel_ids": [channel_id]})
    assert run.status_code == 201 and run.json()["asked"] == 1
    message = db.scalar(select(NotifyMessage))
    assert message.body["link_url"] == "https://reviews.example.test/freshgo"


def test_stage_changes_are_recorded_as_moves(client, db, org):
    for stage in ("acquisition", "conversion", "conversion", "retention"):
        response = client.post("/api/v1/contacts", headers=org.headers,
                                json={"external_id": "C-1", "lifecycle_stage": stage})
        assert response.status_code in (200, 201), response.text
    moves = db.scalars(select(LifecycleMove).where(LifecycleMove.org_id == org.org_id)
                       .order_by(LifecycleMove.moved_at)).all()
    assert [(m.from_stage, m.to_stage) for m in moves] == [
        (None, "acquisition"), ("acquisition", "conversion"), ("conversion", "retention")]
    assert {m.source for m in moves} == {"contact_write"}


def test_lifecycle_view_and_observed_moves(client, db, org, survey):
    now = utcnow()
    contact = add_contact(db, org.org_id, lifecycle_stage="retention")
    for days, stage, score in ((50, "acquisition", 10), (40, "conversion", 6),
                               (20, "retention", 9), (10, "retention", 8)):
        add_response(db, org.org_id, survey["id"], score, contact=contact,
                     attributes={"lifecycle_stage": stage}, at=now - timedelta(days=days))
    db.commit()
    observed = client.post("/api/v1/lifecycle/observe", headers=org.headers)
    assert observed.json() == {"observed_moves": 2}
    # Idempotent: run again, the same two.
    assert client.post("/api/v1/lifecycle/observe", headers=org.headers).json() == {
        "observed_moves": 2}
    view = client.get("/api/v1/lifecycle", headers=org.headers).json()
    assert view["nps"]["acquisition"]["n"] == 1 and view["nps"]["acquisition"]["nps"] == 100.0
    assert view["nps"]["conversion"]["nps"] == -100.0
    assert view["nps"]["retention"]["n"] == 2 and view["nps"]["retention"]["nps"] == 50.0
    assert view["moves"]["matrix"]["acquisition"]["conversion"] == 1
    assert view["moves"]["matrix"]["conversion"]["retention"] == 1
    assert view["moves"]["sources"]["observed"] == 2
    assert view["contacts"]["retention"] == 1
    assert [s["name"] for s in view["surveys"]["other"]] == ["Relationship Q1"]
    assert client.get("/api/v1/lifecycle?to=nope", headers=org.headers).status_code == 422
    viewer = client.post("/api/v1/lifecycle/observe",
                         headers={"Authorization": "Bearer nope"})
    assert viewer.status_code == 401
