"""The targeting settings a decision reads, kept per process and checked on every decision.

A widget decision needs the organisation's active triggers, the segments they name, its
fatigue policy, the per-survey overrides and its time zone. They change a few times a day
and are read many times a second, so each process keeps them, and every decision checks
that they are still current with a *version*: per table, the number of the organisation's
rows and their latest `updated_at`. The version is read in the same statement that finds
(and locks) the contact, so the check costs no round trip of its own. Any insert, update
or delete through the application moves it (an insert or update moves the latest
`updated_at`, a delete the count), and so does a rolled-back change that was cached inside
its own transaction. What it could miss is two edits within the clock difference of two
servers; `MAX_AGE` bounds that corner: an entry is reloaded after a minute whatever its
version (a minute's staleness there only means a trigger edit takes effect a minute late).

Survey status and every fact about the contact are not cached: they are read by the
decision itself.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, bindparam, func, select

from npsloop.accounts.models import Organization
from npsloop.contacts.models import Segment
from npsloop.targeting.models import (
    DEFAULT_RECONTACT_DAYS,
    FatiguePolicy,
    SurveyFatigueOverride,
    Trigger,
)
from npsloop.targeting.policy import Effective

MAX_AGE = 60.0  # seconds; see the module doc
MAX_ORGS = 2_000  # entries kept; the least recently used goes first

_triggers = Trigger.__table__.c
_segments = Segment.__table__.c
_policies = FatiguePolicy.__table__.c
_overrides = SurveyFatigueOverride.__table__.c
_orgs = Organization.__table__.c


def _count_and_latest(table: Any, org_column: Any) -> list[ColumnElement[Any]]:
    where = org_column == bindparam("org")
    return [select(func.count()).select_from(table).where(where).scalar_subquery(),
            select(func.max(table.c.updated_at)).where(where).scalar_subquery()]


# The version's columns, to add to the statement that finds the contact.
VERSION_COLUMNS: list[ColumnElement[Any]] = [
    *_count_and_latest(Trigger.__table__, _triggers.org_id),
    *_count_and_latest(Segment.__table__, _segments.org_id),
    *_count_and_latest(FatiguePolicy.__table__, _policies.org_id),
    *_count_and_latest(SurveyFatigueOverride.__table__, _overrides.org_id),
    select(_orgs.updated_at).where(_orgs.id == bindparam("org")).scalar_subquery(),
]
VERSION_WIDTH = len(VERSION_COLUMNS)


@dataclass(frozen=True)
class TriggerConfig:
    """An active trigger, as the decision reads it (the same names as the model's)."""

    id: str
    org_id: str
    name: str
    event_name: str
    channel: str
    survey_id: str
    segment_id: str | None
    delay_seconds: int
    conditions: list[dict[str, Any]]


@dataclass
class OrgConfig:
    org_id: str
    version: tuple[Any, ...]
    loaded_at: float
    timezone: str
    triggers: list[TriggerConfig]
    segments: dict[str, tuple[str, Any]]  # id -> (name, rules)
    policy: dict[str, Any] | None
    overrides: dict[str, tuple[int | None, float | None]]  # survey id -> (days, percent)
    # Whatever callers derive from this configuration (compiled statements), dropped with it.
    derived: dict[Any, Any] = field(default_factory=dict)

    def triggers_for(self, event: str, channels: tuple[str, ...],
                     survey_id: str | None = None) -> list[TriggerConfig]:
        return [t for t in self.triggers if t.event_name == event and t.channel in channels
                and (survey_id is None or t.survey_id == survey_id)]

    def effective(self, survey_id: str | None) -> Effective:
        """`policy.effective_policy` from the cached rows (the same rules)."""
        policy = self.policy
        days = policy["recontact_days"] if policy else DEFAULT_RECONTACT_DAYS
        sampling = policy["sampling_percent"] if policy else 100.0
        source = "organization"
        override = self.overrides.get(survey_id) if survey_id else None
        if override is not None and override[0] is not None:
            days, source = override[0], "survey"
        if override is not None and override[1] is not None:
            sampling = override[1]
        return Effective(
            timezone=self.timezone, recontact_days=days, recontact_source=source,
            sampling_percent=sampling,
            quiet_start=policy["quiet_start"] if policy else None,
            quiet_end=policy["quiet_end"] if policy else None,
            cap_count=policy["cap_count"] if policy else None,
            cap_days=policy["cap_days"] if policy else None)


_ACTIVE_TRIGGERS = select(
    _triggers.id, _triggers.org_id, _triggers.name, _triggers.event_name, _triggers.channel,
    _triggers.survey_id, _triggers.segment_id, _triggers.delay_seconds, _triggers.conditions,
).where(_triggers.org_id == bindparam("org"), _triggers.active.is_(True)).order_by(
    _triggers.created_at, _triggers.id)
_SEGMENTS = select(_segments.id, _segments.name, _segments.rules).where(
    _segments.org_id == bindparam("org"))
_POLICY = select(_policies.recontact_days, _policies.sampling_percent, _policies.quiet_start,
                 _policies.quiet_end, _policies.cap_count, _policies.cap_days).where(
    _policies.org_id == bindparam("org"))
_OVERRIDES = select(_overrides.survey_id, _overrides.recontact_days,
                    _overrides.sampling_percent).where(_overrides.org_id == bindparam("org"))
_TIMEZONE = select(_orgs.timezone).where(_orgs.id == bindparam("org"))


def _load(conn: Connection, org_id: str, version: tuple[Any, ...]) -> OrgConfig:
    params = {"org": org_id}
    triggers = [TriggerConfig(**row._mapping) for row in conn.execute(_ACTIVE_TRIGGERS, params)]
    wanted = {t.segment_id for t in triggers if t.segment_id}
    segments = {sid: (name, rules) for sid, name, rules in conn.execute(_SEGMENTS, params)
                if sid in wanted}
    policy_row = conn.execute(_POLICY, params).first()
    overrides = {sid: (days, percent) for sid, days, percent in conn.execute(_OVERRIDES, params)}
    timezone = conn.execute(_TIMEZONE, params).scalar()
    return OrgConfig(org_id=org_id, version=version, loaded_at=time.monotonic(),
                     timezone=timezone or "UTC", triggers=triggers, segments=segments,
                     policy=dict(policy_row._mapping) if policy_row is not None else None,
                     overrides=overrides)


class _Cache:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], OrgConfig] = {}
        self.lock = threading.Lock()

    def get(self, conn: Connection, org_id: str, version: tuple[Any, ...]) -> OrgConfig:
        key = (conn.dialect.name, org_id)
        with self.lock:
            found = self.items.pop(key, None)
            if found is not None:
                self.items[key] = found  # most recently used last
        if found is not None and found.version == version \
                and time.monotonic() - found.loaded_at < MAX_AGE:
            return found
        loaded = _load(conn, org_id, version)
        with self.lock:
            self.items[key] = loaded
            while len(self.items) > MAX_ORGS:
                self.items.pop(next(iter(self.items)))
        return loaded

    def clear(self) -> None:
        with self.lock:
            self.items.clear()


cache = _Cache()


def version_of(row: Any, start: int) -> tuple[Any, ...]:
    """The version from a row whose columns from `start` on are VERSION_COLUMNS."""
    values = tuple(row[start:start + VERSION_WIDTH])
    # SQLite returns MAX() over a datetime column as text, PostgreSQL as a datetime: either
    # compares as itself, which is all a version needs.
    return tuple(v.isoformat() if isinstance(v, datetime) else v for v in values)


def config_for(conn: Connection, org_id: str, version: tuple[Any, ...]) -> OrgConfig:
    return cache.get(conn, org_id, version)
