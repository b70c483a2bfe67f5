"""What happens around a send: a campaign scheduled for later starts when the worker
reaches its time, a mailbox that does not exist makes its invitation failed (notify's
outcome copied back), and open channels (QR code) appear in the funnel from responses."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from npsloop.core.db import utcnow
from npsloop.distribution import dispatch
from npsloop.distribution.models import Campaign, Invitation
from npsloop.surveys.models import Survey
from tests.distribution.helpers import contacts_and_segment, deliver_all, email_channel, start_smtp


@pytest.fixture
def smtp():
    controller, port, inbox = start_smtp()
    yield port, inbox
    controller.stop()


def test_scheduled_campaign_starts_on_time_and_bounces_become_failed(
        client, db, db_factory, org, survey, smtp, settings):
    port, inbox = smtp
    inbox.refuse.add("c1@example.test")
    channel_id = email_channel(client, org, port)
    segment_id = contacts_and_segment(client, org, count=3)
    at = utcnow() + timedelta(hours=1)
    created = client.post("/api/v1/campaigns", headers=org.headers, json={
        "survey_id": survey["id"], "segment_id": segment_id, "channel": "email",
        "notify_channel_id": channel_id, "send_at": at.isoformat()})
    assert created.status_code == 201 and created.json()["status"] == "scheduled"
    assert dispatch.tick(db_factory)["campaigns_started"] == 0  # not yet
    totals = dispatch.tick(db_factory, now=at + timedelta(minutes=1))
    assert totals["campaigns_started"] == 1 and totals["sent"] == 3
    deliver_all(db_factory, settings)
    dispatch.tick(db_factory, now=at + timedelta(minutes=2))
    db.expire_all()
    invitations = db.scalars(select(Invitation).where(
        Invitation.campaign_id == created.json()["id"])).all()
    assert sorted(i.status for i in invitations) == ["delivered", "delivered", "failed"]
    failed = next(i for i in invitations if i.status == "failed")
    assert "550" in failed.error and failed.failed_at is not None
    assert db.get(Campaign, created.json()["id"]).status == "sent"
    assert len(inbox.messages) == 2


def test_open_channels_in_the_funnel(client, db, org, survey):
    token = db.get(Survey, survey["id"]).public_token
    for score, status in ((9, "complete"), (4, "partial")):
        response = client.post(f"/s/{token}/responses", json={
            "score": score, "status": status, "channel": "qr"})
        assert response.status_code == 201, response.text
    rows = client.get("/api/v1/stats/funnel", params={"channel": "qr"},
                      headers=org.headers).json()["rows"]
    assert rows == [{"survey_id": survey["id"], "channel": "qr", "invited": None,
                     "delivered": None, "opened": None, "started": 2, "completed": 1,
                     "response_rate": 0.5, "failed": None, "bounced": None}]
