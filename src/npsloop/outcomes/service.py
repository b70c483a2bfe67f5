"""Outcome settings and the SQL pieces every outcome query shares.

"Repurchased within N days after time t" is an EXISTS on contact_events with
t < occurred_at <= t + N days; "churned" is the same on the churn event, or, when the
organisation names no churn event, the absence of any repurchase event in that window
(inactivity). Adding days to a timestamp differs per database, so `ShiftDays` compiles to
`col + N * interval '1 day'` on PostgreSQL and to SQLite's datetime() (keeping the stored
microseconds, so the result compares correctly with stored timestamps as text).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, exists, not_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement

from npsloop.contacts.models import Event
from npsloop.core.db import utcnow
from npsloop.core.errors import InputError
from npsloop.outcomes.models import (
    DEFAULT_CHURN_EVENT,
    DEFAULT_REPURCHASE_EVENT,
    DEFAULT_WINDOW_DAYS,
    Outcome,
    OutcomeSettings,
)

EVENT_NAME = re.compile(r"^[\w.:-]{1,100}$")
MAX_WINDOW_DAYS = 365


class OutcomeError(InputError):
    """Bad input; `field` names the parameter, `status_code` the HTTP status to answer."""


def get_settings(session: Session, org_id: str) -> OutcomeSettings:
    row = session.get(OutcomeSettings, org_id)
    if row is not None:
        return row
    return OutcomeSettings(org_id=org_id, repurchase_event=DEFAULT_REPURCHASE_EVENT,
                           churn_event=DEFAULT_CHURN_EVENT, window_days=DEFAULT_WINDOW_DAYS)


def save_settings(session: Session, org_id: str, values: dict[str, Any]) -> OutcomeSettings:
    """Checks and stores repurchase_event, churn_event ("" = inactivity) and window_days."""
    if "repurchase_event" in values:
        values["repurchase_event"] = str(values["repurchase_event"] or "").strip()
        if not EVENT_NAME.match(values["repurchase_event"]):
            raise OutcomeError("repurchase_event", "must be an event name: 1-100 letters, "
                                                   "digits or _ . : - (e.g. order_placed)")
    if "churn_event" in values:
        values["churn_event"] = str(values["churn_event"] or "").strip()
        if values["churn_event"] and not EVENT_NAME.match(values["churn_event"]):
            raise OutcomeError("churn_event", "must be an event name (1-100 letters, digits "
                                              "or _ . : -) or empty for 'inactive'")
    if "window_days" in values:
        values["window_days"] = check_window(values["window_days"], "window_days")
    row = session.get(OutcomeSettings, org_id)
    if row is None:
        row = get_settings(session, org_id)
        session.add(row)
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_at = utcnow()
    session.flush()
    return row


def check_window(value: Any, field: str = "window_days") -> int:
    try:
        days = int(value)
    except (TypeError, ValueError) as exc:
        raise OutcomeError(field, f"'{value}' is not a whole number of days") from exc
    if isinstance(value, float) and not value.is_integer():
        raise OutcomeError(field, "must be a whole number of days")
    if not 1 <= days <= MAX_WINDOW_DAYS:
        raise OutcomeError(field, f"must be between 1 and {MAX_WINDOW_DAYS} days")
    return days


def check_outcome(value: str) -> Outcome:
    try:
        return Outcome(value)
    except ValueError as exc:
        raise OutcomeError("outcome", "must be repurchase or churn") from exc


# -- SQL ---------------------------------------------------------------------------------


class ShiftDays(ColumnElement[datetime]):
    """A timestamp column moved by a whole number of days (negative: back)."""

    inherit_cache = True
    type = DateTime(timezone=True)

    def __init__(self, column: ColumnElement[Any], days: int) -> None:
        self.column = column
        self.days = int(days)


@compiles(ShiftDays)
def _shift_sqlite(element: ShiftDays, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff'; datetime() drops the fraction, so add it back.
    return f"(datetime({column}, '{element.days:+d} days') || substr({column}, 20))"


@compiles(ShiftDays, "postgresql")
def _shift_pg(element: ShiftDays, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    return f"({column} + interval '{element.days:d} days')"


def event_within(org_id: str, contact_id: ColumnElement[Any], start: ColumnElement[Any],
                 days: int, name: str) -> ColumnElement[bool]:
    """EXISTS an event `name` of the contact in (start, start + days].

    `contact_id` must come from a query already limited to the organisation (a contact and
    its events share one org). The events' own org_id is deliberately not compared: with
    it, SQLite may pick the (org, name, time) index and scan every order of the
    organisation's window once per respondent instead of the contact's few."""
    del org_id  # kept in the signature so every caller states the tenancy it relies on
    return exists(select(Event.id).where(
        Event.contact_id == contact_id, Event.name == name,
        Event.occurred_at > start, Event.occurred_at <= ShiftDays(start, days)))


def outcome_condition(settings: OutcomeSettings, outcome: Outcome, org_id: str,
                      contact_id: ColumnElement[Any], start: ColumnElement[Any],
                      days: int) -> ColumnElement[bool]:
    """Whether the contact had the outcome in the `days` after `start` (an SQL condition)."""
    if outcome == Outcome.repurchase:
        return event_within(org_id, contact_id, start, days, settings.repurchase_event)
    if settings.churn_event:
        return event_within(org_id, contact_id, start, days, settings.churn_event)
    return not_(event_within(org_id, contact_id, start, days, settings.repurchase_event))


def event_name_of(settings: OutcomeSettings, outcome: Outcome) -> str:
    if outcome == Outcome.repurchase:
        return settings.repurchase_event
    return settings.churn_event or f"inactive:{settings.repurchase_event}"

