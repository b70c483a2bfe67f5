"""Automatic triggers: each batch of behaviour events (outbox topic `contact.events_recorded`,
emitted by contacts/events.py) is matched against the organisation's active triggers.

For every event with a trigger, `decide_for_contact` runs once per channel (source
"trigger", send_at = event time + delay); it creates the invitation when fatigue allows and
logs the decision either way. Email/SMS invitations are then sent by the distribution
worker when due; widget invitations wait for the widget's next decide call. Triggers on the
"api" channel are answered only by `POST /api/v1/triggers`, never fired from here.

Runs inside the outbox transaction: a failure rolls everything back and the outbox retries
the whole batch, so nothing is invited twice.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from npsloop.contacts.events import TOPIC
from npsloop.contacts.models import Contact, Event
from npsloop.contacts.service import IN_CHUNK
from npsloop.core.outbox import OutboxEvent, subscribe
from npsloop.targeting.decide import EVENT_SOURCE, decide_for_contact
from npsloop.targeting.models import Trigger

FIRED_CHANNELS = ("email", "sms", "widget")


def _events(session: Session, org_id: str, ids: list[str]) -> list[Event]:
    found: list[Event] = []
    for start in range(0, len(ids), IN_CHUNK):
        found += session.scalars(select(Event).where(
            Event.org_id == org_id, Event.id.in_(ids[start:start + IN_CHUNK])))
    return sorted(found, key=lambda e: (e.occurred_at, e.id))


@subscribe(TOPIC)
def fire_triggers(session: Session, outbox_event: OutboxEvent) -> None:
    org_id = outbox_event.org_id
    items = outbox_event.payload.get("events") or []
    names = sorted({item["name"] for item in items})
    if not names:
        return
    # One indexed query decides whether this batch concerns any trigger at all (most don't).
    triggers = list(session.scalars(
        select(Trigger).where(Trigger.org_id == org_id, Trigger.event_name.in_(names),
                              Trigger.active.is_(True), Trigger.channel.in_(FIRED_CHANNELS))
        .order_by(Trigger.created_at, Trigger.id)))
    if not triggers:
        return
    by_event: dict[str, dict[str, list[Trigger]]] = defaultdict(lambda: defaultdict(list))
    for trigger in triggers:
        by_event[trigger.event_name][trigger.channel].append(trigger)
    wanted = [item["id"] for item in items if item["name"] in by_event]
    for event in _events(session, org_id, wanted):
        if event.source == EVENT_SOURCE:  # POST /api/v1/triggers already answered for it
            continue
        contact = session.get(Contact, event.contact_id)
        if contact is None:  # deleted since the event was stored
            continue
        for channel, group in by_event[event.name].items():
            # The widget decides on its own events at once, while the visitor is there.
            if channel == "widget" and event.source == "widget":
                continue
            decide_for_contact(session, org_id=org_id, contact=contact, event=event.name,
                               properties=event.properties, channel=channel,
                               source="trigger", occurred_at=event.occurred_at,
                               triggers=group)
