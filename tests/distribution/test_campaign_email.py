"""A campaign to a segment by email, end to end: invitations, the local SMTP server, the
personal link (one response per token, the contact's attributes on the response), delivery
status back on the invitation, the funnel in the API, and an unsubscribe that is honoured."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from npsloop.accounts.models import Organization
from npsloop.distribution import dispatch, service
from npsloop.distribution.models import Invitation
from npsloop.responses.models import Response
from tests.distribution.helpers import (
    LINK,
    UNSUB,
    contacts_and_segment,
    deliver_all,
    email_channel,
    start_smtp,
)


@pytest.fixture
def smtp():
    controller, port, inbox = start_smtp()
    yield port, inbox
    controller.stop()


def _campaign(client, org, survey, segment_id, channel_id, **extra):
    body = {"name": "Q1 relationship", "survey_id": survey["id"], "segment_id": segment_id,
            "channel": "email", "notify_channel_id": channel_id,
            "messages": {"en": {"subject": "{org} asks, {name}"}}, **extra}
    response = client.post("/api/v1/campaigns", json=body, headers=org.headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_email_campaign_personal_link_funnel_and_unsubscribe(
        client, db, db_factory, org, survey, smtp, settings):
    port, inbox = smtp
    channel_id = email_channel(client, org, port)
    segment_id = contacts_and_segment(client, org, count=3)
    campaign = _campaign(client, org, survey, segment_id, channel_id)
    assert campaign["status"] == "draft" and campaign["invited_count"] == 0

    sent = client.post(f"/api/v1/campaigns/{campaign['id']}/send", headers=org.headers)
    assert sent.status_code == 200, sent.text
    assert sent.json()["invited"] == 3 and sent.json()["skipped"] == {}
    again = client.post(f"/api/v1/campaigns/{campaign['id']}/send", headers=org.headers)
    assert again.status_code == 409  # a campaign is sent once

    assert dispatch.tick(db_factory)["sent"] == 3
    deliver_all(db_factory, settings)
    assert dispatch.tick(db_factory)["synced"] == 3
    assert {i.status for i in db.scalars(select(Invitation).where(
        Invitation.campaign_id == campaign["id"]))} == {"delivered"}

    mail = inbox.to("c0@example.test")  # C-0 prefers English
    assert mail["Subject"] == f"{_org_name(db, org)} asks, Customer 0"
    assert mail["List-Unsubscribe"].startswith("<http")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    link = LINK.search(text).group(1)
    assert LINK.search(html).group(1) == link and "Unsubscribe" in html
    zh_mail = inbox.to("c1@example.test")
    assert "想听听您的意见" in zh_mail["Subject"] and "开始填写" in zh_mail.get_body(
        ("plain",)).get_content()

    opened = client.get(link, follow_redirects=False)
    assert opened.status_code == 303
    page = client.get(opened.headers["location"])
    assert page.status_code == 200 and "inv=" in page.text
    public_token = opened.headers["location"].split("/")[2].split("?")[0]
    submit_url = f"/s/{public_token}/responses?inv={link.split('/')[-1]}"
    partial = client.post(submit_url, json={"score": 9, "status": "partial",
                                            "idempotency_key": "abcdefgh1"})
    assert partial.status_code == 201, partial.text
    done = client.post(submit_url, json={"score": 10, "comment": "great",
                                         "idempotency_key": "different-key"})
    assert done.status_code == 200 and done.json()["id"] == partial.json()["id"]
    second = client.post(submit_url, json={"score": 3})
    assert second.status_code == 409
    assert second.json()["reason"] == "already_answered" and second.json()["message"]
    assert client.get(opened.headers["location"]).status_code == 409  # the page says so too

    response = db.get(Response, done.json()["id"])
    db.refresh(response)
    assert response.channel == "email" and response.status == "complete"
    assert response.contact_attributes == {"plan": "gold", "city": "Hangzhou"}
    assert response.contact_id is not None

    funnel = client.get("/api/v1/stats/funnel", params={"survey_id": survey["id"],
                                                         "channel": "email"},
                        headers=org.headers).json()["rows"]
    assert funnel == [{"survey_id": survey["id"], "channel": "email", "invited": 3,
                       "delivered": 3, "opened": 1, "started": 1, "completed": 1,
                       "response_rate": round(1 / 3, 4), "failed": 0, "bounced": 0}]
    detail = client.get(f"/api/v1/campaigns/{campaign['id']}", headers=org.headers).json()
    assert detail["funnel"]["completed"] == 1 and detail["status"] == "sent"

    # Unsubscribe from C-2's mail: the next campaign skips C-2, counted per rule.
    unsub = UNSUB.search(inbox.to("c2@example.test").get_body(("plain",)).get_content())
    assert client.get(unsub.group(1)).status_code == 200
    assert client.post(unsub.group(1)).status_code == 200
    c2 = _contact_id(client, org, "C-2")
    assert service.is_unsubscribed(db, org_id=org.org_id, contact_id=c2, channel="email")
    second_campaign = _campaign(client, org, survey, segment_id, channel_id, send_now=True)
    # C-0 answered and C-1, C-2 were invited minutes ago: the recontact window skips them,
    # but the unsubscribe is the rule reported for C-2.
    assert second_campaign["skipped"].get("unsubscribed") == 1
    assert second_campaign["invited_count"] == 0


def _org_name(db, org) -> str:
    return db.get(Organization, org.org_id).name


def test_personal_link_tampered_or_expired(client, db, org, survey):
    segment_id = contacts_and_segment(client, org, count=1)
    contact_id = _contact_id(client, org, "C-0")
    invitation = service.create_invitation(
        db, org_id=org.org_id, survey_id=survey["id"], contact_id=contact_id, channel="email",
        source="api")
    db.commit()
    token = service.invitation_token(invitation)
    from npsloop.surveys.models import Survey
    public_token = db.get(Survey, survey["id"]).public_token
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get(f"/i/{forged}", follow_redirects=False).status_code == 404
    assert client.get(f"/s/{public_token}?inv={forged}").status_code == 404
    from datetime import timedelta

    from npsloop.core.db import utcnow
    invitation.expires_at = utcnow() - timedelta(minutes=1)
    db.commit()
    expired = service.invitation_token(invitation)
    assert client.get(f"/i/{expired}", follow_redirects=False).status_code == 410
    assert client.post(f"/s/{public_token}/responses?inv={expired}",
                       json={"score": 5}).status_code == 410
    assert segment_id


def _contact_id(client, org, external_id: str) -> str:
    return client.get(f"/api/v1/contacts/{external_id}", headers=org.headers).json()["id"]


def test_worker_rechecks_optouts_and_expiry_at_send_time(client, db, db_factory, org, survey):
    """Between planning and sending a contact may opt out and a link may expire: the
    worker checks again and never sends those."""
    from datetime import timedelta

    from npsloop.core.db import utcnow
    from npsloop.distribution.models import Unsubscribe

    channel_id = email_channel(client, org, 2525)
    segment_id = contacts_and_segment(client, org, count=3)
    campaign = _campaign(client, org, survey, segment_id, channel_id, send_now=True)
    assert campaign["invited_count"] == 3
    rows = db.scalars(select(Invitation).where(Invitation.campaign_id == campaign["id"])
                      .order_by(Invitation.contact_id)).all()
    db.add(Unsubscribe(org_id=org.org_id, contact_id=rows[0].contact_id, channel="all"))
    rows[1].expires_at = utcnow() - timedelta(seconds=1)
    db.commit()
    assert dispatch.tick(db_factory)["sent"] == 1
    db.expire_all()
    assert sorted(i.status for i in db.scalars(select(Invitation).where(
        Invitation.campaign_id == campaign["id"]))) == ["cancelled", "expired", "sent"]
