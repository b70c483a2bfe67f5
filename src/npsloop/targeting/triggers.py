"""Trigger definitions: create, change, list, delete, each checked field by field.

A trigger names an event, an optional segment, a survey of the same organisation, a channel
(email / sms / widget / api) and a delay; conditions on the event's properties are optional.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from npsloop.contacts.models import Segment
from npsloop.surveys.models import Survey
from npsloop.targeting import conditions as conds
from npsloop.targeting.models import Trigger

CHANNELS = ("email", "sms", "widget", "api")
EVENT_NAME = re.compile(r"^[\w.:-]{1,100}$")
MAX_DELAY_SECONDS = 90 * 86400


class TriggerError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass
class TriggerData:
    name: str
    event_name: str
    survey_id: str
    channel: str
    delay_seconds: int = 0
    segment_id: str | None = None
    conditions: list[dict[str, Any]] | None = None
    active: bool = True


def _validate(session: Session, org_id: str, data: TriggerData) -> dict[str, Any]:
    name = (data.name or "").strip()
    if not name or len(name) > 200:
        raise TriggerError("name", "must be 1-200 characters")
    if not EVENT_NAME.match(data.event_name or ""):
        raise TriggerError("event_name",
                           "must be 1-100 letters, digits or _ . : - (e.g. order_paid)")
    if data.channel not in CHANNELS:
        raise TriggerError("channel", f"must be one of {', '.join(CHANNELS)}")
    if isinstance(data.delay_seconds, bool) or not isinstance(data.delay_seconds, int) or \
            not 0 <= data.delay_seconds <= MAX_DELAY_SECONDS:
        raise TriggerError("delay_seconds",
                           f"must be a whole number of seconds from 0 to {MAX_DELAY_SECONDS}")
    survey = session.get(Survey, data.survey_id) if data.survey_id else None
    if survey is None or survey.org_id != org_id:
        raise TriggerError("survey_id", f"unknown survey '{data.survey_id}'")
    segment_id = data.segment_id or None
    if segment_id is not None:
        segment = session.get(Segment, segment_id)
        if segment is None or segment.org_id != org_id:
            raise TriggerError("segment_id", f"unknown segment '{segment_id}'")
    try:
        clean = conds.validate(data.conditions)
    except conds.ConditionError as exc:
        raise TriggerError(exc.field, exc.message) from exc
    return {"name": name, "event_name": data.event_name, "survey_id": survey.id,
            "channel": data.channel, "delay_seconds": data.delay_seconds,
            "segment_id": segment_id, "conditions": clean, "active": bool(data.active)}


def create_trigger(session: Session, *, org_id: str, data: TriggerData,
                   actor: str = "") -> Trigger:
    trigger = Trigger(org_id=org_id, created_by=actor, **_validate(session, org_id, data))
    session.add(trigger)
    session.flush()
    return trigger


def update_trigger(session: Session, *, trigger: Trigger, data: TriggerData) -> Trigger:
    for key, value in _validate(session, trigger.org_id, data).items():
        setattr(trigger, key, value)
    session.flush()
    return trigger


def get_trigger(session: Session, *, org_id: str, trigger_id: str) -> Trigger | None:
    return session.scalar(select(Trigger).where(Trigger.org_id == org_id,
                                                Trigger.id == trigger_id))


def list_triggers(session: Session, *, org_id: str) -> list[Trigger]:
    return list(session.scalars(select(Trigger).where(Trigger.org_id == org_id)
                                .order_by(Trigger.active.desc(), Trigger.name, Trigger.id)))


def delete_trigger(session: Session, *, trigger: Trigger) -> None:
    session.delete(trigger)
    session.flush()


def as_data(trigger: Trigger) -> TriggerData:
    return TriggerData(name=trigger.name, event_name=trigger.event_name,
                       survey_id=trigger.survey_id, channel=trigger.channel,
                       delay_seconds=trigger.delay_seconds, segment_id=trigger.segment_id,
                       conditions=list(trigger.conditions or []), active=trigger.active)
