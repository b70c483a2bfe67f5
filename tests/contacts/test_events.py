"""Behaviour events: single and batch, idempotency by event id, unknown contacts, validation,
the outbox announcement and the per-contact count query."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from npsloop.contacts.events import TOPIC, count_events
from npsloop.contacts.models import Event
from npsloop.contacts.service import get_by_external_id
from npsloop.core.outbox import OutboxEvent


def iso(days_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days_ago)).isoformat()


def test_single_event_creates_unknown_contact(client, org, db):
    response = client.post("/api/v1/events", json={
        "contact_external_id": "E-1", "name": "order_paid", "properties": {"amount": 99},
        "timestamp": "2026-11-20T10:00:00+08:00"}, headers=org.headers)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1 and response.json()["contacts_created"] == 1
    contact = get_by_external_id(db, org_id=org.org_id, external_id="E-1")
    assert contact is not None
    event = db.scalar(select(Event).where(Event.contact_id == contact.id))
    assert event.occurred_at == datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    assert event.properties == {"amount": 99}
    listed = client.get("/api/v1/contacts/E-1/events", headers=org.headers).json()
    assert [e["name"] for e in listed] == ["order_paid"]


def test_batch_is_idempotent_by_event_id(client, org, db):
    batch = {"events": [
        {"contact_external_id": "E-2", "name": "login", "event_id": "ev-1"},
        {"contact_external_id": "E-2", "name": "login", "event_id": "ev-2"},
        {"contact_external_id": "E-3", "name": "order_paid", "event_id": "ev-3"},
        {"contact_external_id": "E-3", "name": "order_paid", "event_id": "ev-3"},  # repeated
        {"contact_external_id": "E-3", "name": "order_paid"},  # no id: always stored
    ]}
    first = client.post("/api/v1/events/batch", json=batch, headers=org.headers).json()
    assert (first["accepted"], first["duplicates"], first["contacts_created"]) == (4, 1, 2)
    again = client.post("/api/v1/events", json=batch, headers=org.headers).json()
    assert (again["accepted"], again["duplicates"]) == (1, 4)
    e3 = get_by_external_id(db, org_id=org.org_id, external_id="E-3")
    assert count_events(db, org_id=org.org_id, contact_id=e3.id, name="order_paid") == 3
    # One outbox announcement per request that stored something, listing its events.
    announced = db.scalars(select(OutboxEvent).where(
        OutboxEvent.org_id == org.org_id, OutboxEvent.topic == TOPIC)).all()
    assert sorted(len(o.payload["events"]) for o in announced) == [1, 4]


def test_reject_rule_and_validation_errors(client, org):
    client.post("/api/v1/contacts", json={"external_id": "known"}, headers=org.headers)
    response = client.post("/api/v1/events", json={
        "unknown_contact": "reject", "events": [
            {"contact_external_id": "known", "name": "ok"},
            {"contact_external_id": "ghost", "name": "ok"}]}, headers=org.headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "events", 1, "contact_external_id"]
    listed = client.get("/api/v1/events", params={"contact_external_id": "known"},
                        headers=org.headers).json()
    assert listed == []  # all-or-nothing: the valid event was not stored either
    response = client.post("/api/v1/events", json={"events": [
        {"contact_external_id": "known", "name": "bad name!"},
        {"contact_external_id": "known", "name": "ok", "timestamp": "2026-01-01T00:00:00"},
        {"contact_external_id": "known", "name": "ok", "timestamp": iso(-2)},
    ]}, headers=org.headers)
    assert response.status_code == 422
    locs = [tuple(e["loc"]) for e in response.json()["detail"]]
    assert locs == [("body", "events", 0, "name"), ("body", "events", 1, "timestamp"),
                    ("body", "events", 2, "timestamp")]
    missing = client.post("/api/v1/events", json={"name": "x"}, headers=org.headers)
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "contact_external_id"]


def test_count_since_uses_the_window(client, org, db):
    events = [{"contact_external_id": "W", "name": "order_paid", "timestamp": iso(d)}
              for d in (1, 5, 20, 40)]
    client.post("/api/v1/events", json={"events": events}, headers=org.headers)
    contact = get_by_external_id(db, org_id=org.org_id, external_id="W")
    since = datetime.now(UTC) - timedelta(days=30)
    assert count_events(db, org_id=org.org_id, contact_id=contact.id, name="order_paid",
                        since=since) == 3


def test_events_stay_in_their_org(client, org, make_org):
    client.post("/api/v1/events", json={"contact_external_id": "S", "name": "x",
                                        "event_id": "shared-id"}, headers=org.headers)
    other = make_org("Other")
    # The same event id in another org is another event.
    response = client.post("/api/v1/events", json={"contact_external_id": "S", "name": "x",
                                                   "event_id": "shared-id"},
                           headers=other.headers)
    assert response.json()["accepted"] == 1
    assert client.get("/api/v1/contacts/S/events", headers=other.headers).json()[0][
        "name"] == "x"
    assert len(client.get("/api/v1/contacts/S/events", headers=org.headers).json()) == 1
