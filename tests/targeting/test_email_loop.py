"""The whole touchpoint loop over real parts: an event arrives by the API, the outbox fires
the trigger, the distribution worker sends the email over SMTP (a local server checks the
wire format), the contact answers through the personal link, and the answer closes the
recontact window for the next event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from npsloop.core import outbox
from npsloop.distribution import dispatch
from npsloop.distribution.models import Invitation
from npsloop.responses.models import Response
from tests.distribution.helpers import LINK, deliver_all, email_channel, start_smtp


@pytest.fixture
def smtp():
    controller, port, inbox = start_smtp()
    yield port, inbox
    controller.stop()


def drain(factory) -> None:
    while outbox.run_once(factory):
        pass


def test_event_to_email_to_answer(client, db, db_factory, org, survey, smtp, settings):
    port, inbox = smtp
    email_channel(client, org, port)
    client.post("/api/v1/contacts", headers=org.headers, json={
        "external_id": "M-1", "email": "m1@example.test", "name": "Mei", "language": "en"})
    rule = client.post("/api/v1/trigger-rules", headers=org.headers, json={
        "name": "After delivery", "event_name": "order_delivered", "survey_id": survey["id"],
        "channel": "email", "delay_seconds": 0,
        "conditions": [{"property": "order_amount", "op": "gt", "value": 100}]}).json()
    happened = datetime.now(UTC) - timedelta(minutes=1)
    event = {"contact_external_id": "M-1", "name": "order_delivered",
             "properties": {"order_amount": 180}, "timestamp": happened.isoformat()}
    assert client.post("/api/v1/events", json=event, headers=org.headers).status_code == 200
    drain(db_factory)

    assert dispatch.tick(db_factory)["sent"] == 1
    deliver_all(db_factory, settings)
    mail = inbox.to("m1@example.test")
    link = LINK.search(mail.get_body(("plain",)).get_content()).group(1)
    invitation = db.scalar(select(Invitation).where(Invitation.org_id == org.org_id))
    assert invitation.trigger_id == rule["id"] and invitation.source == "trigger"

    opened = client.get(link, follow_redirects=False)
    assert opened.status_code == 303
    public_token = opened.headers["location"].split("/")[2].split("?")[0]
    answer = client.post(f"/s/{public_token}/responses?inv={link.split('/')[-1]}",
                         json={"score": 10, "idempotency_key": "loop-answer-1"})
    assert answer.status_code == 201, answer.text
    response = db.get(Response, answer.json()["id"])
    assert response.contact_id == invitation.contact_id  # the answer is the contact's

    # Next order: the response (and the invitation) keep the contact in the window.
    event |= {"timestamp": datetime.now(UTC).isoformat()}
    client.post("/api/v1/events", json=event, headers=org.headers)
    drain(db_factory)
    log = client.get("/api/v1/decisions", headers=org.headers).json()
    assert log["counts"] == {"eligible": 1, "recontact_window": 1}
    assert len(db.scalars(select(Invitation.id).where(
        Invitation.org_id == org.org_id)).all()) == 1
