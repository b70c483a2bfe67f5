"""The decision: should this contact be asked a survey now, which one, by what channel?

`decide` is what the widget, `POST /api/v1/triggers` and the outbox trigger handler call:
  1. the contact (by external id) must exist;
  2. on the widget, an invitation a trigger already scheduled and that is now due is
     returned first (fatigue was checked when it was created);
  3. the active triggers for (event, channel) - or the named survey - are the candidates;
     a trigger needs its event property conditions to hold and the contact in its segment;
  4. fatigue (`fatigue.check`) must allow it; quiet hours do not refuse a trigger but hold
     an email/SMS until they end;
  5. when eligible an invitation is created, send_at = event time + delay; every decision,
     yes or no, is one row of the decision log.
The caller commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from npsloop.contacts import segments
from npsloop.contacts.models import Contact, Segment
from npsloop.core.db import new_id, utcnow
from npsloop.distribution import service as distribution
from npsloop.distribution.models import Invitation
from npsloop.surveys.models import Survey
from npsloop.targeting import conditions as conds
from npsloop.targeting import config_cache, fatigue
from npsloop.targeting.fatigue import PUSH_CHANNELS, Refusal, refusal
from npsloop.targeting.models import DecisionLog, Trigger
from npsloop.targeting.policy import quiet_until

# An event older than this (plus the trigger's delay) is history, not a moment to ask about.
STALE_AFTER = timedelta(hours=48)
# Events stored by `POST /api/v1/triggers`: the caller already has its answer, so the outbox
# trigger handler does not decide on them a second time.
EVENT_SOURCE = "trigger_api"
# How long an invitation stays usable after its send time.
EXPIRES_AFTER = {"widget": timedelta(days=7), "api": timedelta(days=14)}
DEFAULT_EXPIRY = timedelta(days=14)
# Fatigue rules that end the search: another trigger would be refused for the same reason.
CONTACT_WIDE = {"unsubscribed", "no_address", "recontact_window", "invitation_cap"}
# A trigger as the caller loaded it (the outbox handler) or as the settings cache keeps it.
TriggerLike = Trigger | config_cache.TriggerConfig


@dataclass
class Decision:
    eligible: bool
    survey_id: str | None
    refusals: list[Refusal]
    invitation: Invitation | None
    delay_seconds: int
    trigger_id: str | None = None
    contact_id: str | None = None
    extras: dict[str, object] = field(default_factory=dict)


def _conditions_refusal(trigger: TriggerLike, properties: dict | None,
                        language: str) -> list[Refusal]:
    failed = conds.failing(trigger.conditions or [], properties)
    if failed:
        return [refusal("conditions_not_met", language, trigger=trigger.name,
                        conditions="; ".join(conds.describe(c) for c in failed))]
    return []


# -- one decision in four statements ---------------------------------------------------------
# 1. find the contact, lock it and read the settings' version;
# 2. per candidate: a waiting widget invitation (first candidate only), the segment and
#    every fatigue fact, as scalar subqueries of one SELECT;
# 3. the invitation, when eligible; 4. the decision log row.

_contacts = Contact.__table__
_c = _contacts.c
_inv = Invitation.__table__.c
_surveys = Survey.__table__.c
_WHO = (_c.id, _c.email, _c.phone)


def _find_statement(dialect: str, *, by: str, lock: bool) -> Any:
    """Statement 1: the contact's id, email, phone and the settings' version, by external id
    or id. Unless a dry run, it serialises decisions for the contact until the caller
    commits, so two at once (two workers, a double-clicked widget) cannot both pass the
    recontact window and both invite: PostgreSQL locks the contact's row; SQLite takes its
    database write lock now rather than at the first insert (a no-op UPDATE, RETURNING
    what the SELECT would), so the second decision reads after the first. The UPDATE sets
    updated_at to itself (Core: the column's onupdate must not touch it), not the id:
    SQLite would then check every table that references contacts, some by a full scan."""
    # Parameter names differ from the column names: an UPDATE reserves those for its SET.
    where = [_c.org_id == bindparam("org")] if by == "external_id" else []
    where.append(_c[by] == bindparam("key"))
    if lock and dialect != "postgresql":
        return (update(_contacts).where(*where)
                .values(updated_at=_c.updated_at)
                .returning(*_WHO, *config_cache.VERSION_COLUMNS))
    query = select(*_WHO, *config_cache.VERSION_COLUMNS).where(*where)
    return query.with_for_update(of=_contacts) if lock else query


_FIND: dict[tuple[str, str, bool], Any] = {}


@dataclass(frozen=True)
class _Who:
    id: str
    email: str | None
    phone: str | None


def _find(session: Session, org_id: str, *, by: str, key: str, lock: bool
          ) -> tuple[_Who | None, config_cache.OrgConfig | None]:
    conn = session.connection()
    shape = (conn.dialect.name, by, lock)
    if shape not in _FIND:
        _FIND[shape] = _find_statement(conn.dialect.name, by=by, lock=lock)
    row = conn.execute(_FIND[shape], {"org": org_id, "key": key}).first()
    if row is None:
        return None, None
    version = config_cache.version_of(row, len(_WHO))
    return _Who(row[0], row[1], row[2]), config_cache.config_for(conn, org_id, version)


def _due_column(with_survey: bool) -> Any:
    """A widget invitation a trigger scheduled for this contact, due, not expired, of a
    survey still live (the first by send time): its id, as a scalar subquery."""
    where = [_surveys.status == "live", _inv.contact_id == bindparam("contact_id"),
             _inv.org_id == bindparam("org_id"), _inv.channel == "widget",
             _inv.status == "scheduled", _inv.send_at <= bindparam("now"),
             or_(_inv.expires_at.is_(None), _inv.expires_at > bindparam("now"))]
    if with_survey:
        where.append(_inv.survey_id == bindparam("due_survey_id"))
    return (select(_inv.id)
            .select_from(Invitation.__table__.join(Survey.__table__,
                                                   _surveys.id == _inv.survey_id))
            .where(*where).order_by(_inv.send_at).limit(1).scalar_subquery().label("due_id"))


def _state_statement(config: config_cache.OrgConfig, session: Session, *, due: bool,
                     due_survey: bool, facts: dict[str, bool] | None,
                     segment_rules: Any, segment_id: str | None, minute: datetime) -> Any:
    """Statement 2, built once per shape (and per minute with a segment: its rolling windows
    move) and kept with the configuration it was built from."""
    key = (due, due_survey, tuple(sorted(facts.items())) if facts else None, segment_id,
           minute if segment_id else None)
    found = config.derived.get(key)
    if found is not None:
        return found
    columns: list[Any] = [_due_column(due_survey)] if due else []
    if facts is not None:
        columns += fatigue.facts_columns(**facts)
    if segment_id is not None:
        clause = segments.predicate(session, config.org_id, segment_rules, single=True,
                                    now=minute, timezone=config.timezone)
        columns.append(select(_c.id).where(_c.id == bindparam("contact_id"),
                                           _c.org_id == bindparam("org_id"), clause)
                       .exists().label("in_segment"))
    statement = select(*columns)
    if len(config.derived) > 64:  # old minutes' statements
        config.derived.clear()
    config.derived[key] = statement
    return statement


def _decide(
    session: Session, *, org_id: str, who: _Who, config: config_cache.OrgConfig,
    event: str | None, properties: dict | None, channel: str, survey_id: str | None,
    now: datetime, language: str, source: str | None, occurred_at: datetime | None,
    triggers: Sequence[TriggerLike] | None, dry_run: bool,
) -> Decision:
    source = source or ("widget" if channel == "widget" else "api")
    conn = session.connection()
    # The widget asking what to show gets a waiting invitation first; a trigger firing
    # (source "trigger") decides afresh.
    due = channel == "widget" and source != "trigger"
    if triggers is None:
        triggers = config.triggers_for(event, (channel,), survey_id) if event else []
    candidates: list[tuple[TriggerLike | None, str, int]] = [
        (t, t.survey_id, t.delay_seconds) for t in triggers]
    if not candidates and survey_id is not None:
        candidates = [(None, survey_id, 0)]
    base = occurred_at or now
    minute = now.replace(second=0, microsecond=0)  # the segment clause is kept per minute
    params: dict[str, Any] = {"org_id": org_id, "contact_id": who.id, "now": now,
                              "due_survey_id": survey_id}
    decision: Decision | None = None
    for trigger, candidate_survey, delay in candidates or [(None, None, 0)]:
        trigger_id = trigger.id if trigger else None
        found: list[Refusal] = []
        if candidate_survey is not None and base + timedelta(seconds=delay) < now - STALE_AFTER:
            found = [refusal("stale_event", language, event=event or "-",
                             occurred_at=f"{base:%Y-%m-%d %H:%M} UTC",
                             hours=int(STALE_AFTER.total_seconds() // 3600))]
        elif trigger is not None:
            found = _conditions_refusal(trigger, properties, language)
        rules = config.effective(candidate_survey)
        wants_facts = candidate_survey is not None and not found
        segment_id = trigger.segment_id if trigger is not None and wants_facts else None
        segment = config.segments.get(segment_id) if segment_id else None
        if segment_id and segment is None:  # not among the cached: read it as it is now
            row_segment = session.get(Segment, segment_id)
            segment = (row_segment.name, row_segment.rules) if row_segment else None
            if segment is not None:
                config.segments[segment_id] = segment
        row = None
        if due or wants_facts:
            statement = _state_statement(
                config, session, due=due, due_survey=survey_id is not None,
                facts=fatigue.facts_shape(rules) if wants_facts else None,
                segment_rules=segment[1] if segment else None,
                segment_id=segment_id if segment else None, minute=minute)
            if wants_facts:
                params.update(fatigue.facts_params(
                    rules, org_id=org_id, contact_id=who.id, survey_id=candidate_survey,
                    channel=channel, now=now))
            row = conn.execute(statement, params).one()
        if due:
            due = False
            assert row is not None
            if row.due_id is not None:
                pending = session.get(Invitation, row.due_id)
                assert pending is not None
                decision = Decision(True, pending.survey_id, [], pending, 0,
                                    pending.trigger_id, who.id)
                return _finish(session, org_id, who.id, channel, source, now, decision,
                               dry_run)
        if candidate_survey is None:  # no trigger for the event, no survey named
            found = [refusal("no_trigger", language, event=event or "-", channel=channel)]
            return _finish(session, org_id, who.id, channel, source, now,
                           Decision(False, survey_id, found, None, 0, None, who.id), dry_run)
        if wants_facts:
            assert row is not None
            if segment_id and (segment is None or not row.in_segment):
                found = [refusal("not_in_segment", language, trigger=trigger.name,
                                 segment=segment[0] if segment else segment_id)]
            else:
                found = fatigue.judge(fatigue.facts_from(row), rules,
                                      survey_id=candidate_survey, contact_id=who.id,
                                      email=who.email, phone=who.phone, channel=channel,
                                      now=now, language=language, include_quiet_hours=False)
        if not found:
            moment = max(base + timedelta(seconds=delay), now)
            send_at = moment
            if channel in PUSH_CHANNELS:  # `next_allowed_send`, from the cached policy
                general = config.effective(None)
                send_at = quiet_until(moment, start=general.quiet_start, end=general.quiet_end,
                                      tz=general.timezone) or moment
            if dry_run:
                decision = Decision(True, candidate_survey, [], None, delay, trigger_id,
                                    who.id, {"send_at": send_at})
                break
            invitation = distribution.create_invitation(
                session, org_id=org_id, survey_id=candidate_survey, contact_id=who.id,
                channel=channel, source=source, send_at=send_at, trigger_id=trigger_id,
                expires_at=send_at + EXPIRES_AFTER.get(channel, DEFAULT_EXPIRY))
            decision = Decision(True, candidate_survey, [], invitation, delay, trigger_id,
                                who.id)
            break
        # Prefer explaining the candidate that got furthest (past targeting, into fatigue).
        if decision is None or found[0].rule not in ("conditions_not_met", "not_in_segment"):
            decision = Decision(False, candidate_survey, found, None, delay, trigger_id,
                                who.id)
        if found[0].rule in CONTACT_WIDE:
            break
    assert decision is not None
    return _finish(session, org_id, who.id, channel, source, now, decision, dry_run)


_LOG = insert(DecisionLog.__table__)


def _finish(session: Session, org_id: str, contact_id: str | None, channel: str, source: str,
            now: datetime, decision: Decision, dry_run: bool = False) -> Decision:
    """Statement 4: the decision log row (`fatigue.log_decision`'s, without the ORM)."""
    if dry_run:
        return decision
    refusals = decision.refusals
    session.flush()  # the invitation first, as before
    session.connection().execute(_LOG, {
        "id": new_id(), "org_id": org_id, "created_at": now, "contact_id": contact_id,
        "survey_id": decision.survey_id, "channel": channel, "source": source,
        "eligible": decision.eligible, "rule": refusals[0].rule if refusals else None,
        "reasons": [{"rule": r.rule, "params": r.params} for r in refusals],
        "invitation_id": decision.invitation.id if decision.invitation else None,
        "trigger_id": decision.trigger_id})
    return decision


def decide_for_contact(
    session: Session, *, org_id: str, contact: Contact, event: str | None,
    properties: dict | None = None, channel: str = "widget", survey_id: str | None = None,
    now: datetime | None = None, language: str = "en", source: str | None = None,
    occurred_at: datetime | None = None, triggers: Sequence[Trigger] | None = None,
    dry_run: bool = False,
) -> Decision:
    """`decide` for a known contact; `triggers` (already loaded by the caller) replaces the
    lookup, as the outbox handler does for a batch of events. `dry_run` writes nothing (no
    invitation, no log row): the answer says what would happen, with
    `extras["send_at"]` when eligible."""
    session.flush()  # what the caller added is read by the statements below
    who, config = _find(session, org_id, by="id", key=contact.id, lock=not dry_run)
    if who is None or config is None:  # deleted meanwhile: decide on what the caller has
        who = _Who(contact.id, contact.email, contact.phone)
        config = config_cache.config_for(session.connection(), org_id, ("missing",))
    return _decide(session, org_id=org_id, who=who, config=config, event=event,
                   properties=properties, channel=channel, survey_id=survey_id,
                   now=now or utcnow(), language=language, source=source,
                   occurred_at=occurred_at, triggers=triggers, dry_run=dry_run)


def decide(
    session: Session, *, org_id: str, contact_external_id: str, event: str | None,
    properties: dict | None = None, channel: str = "widget", survey_id: str | None = None,
    now: datetime | None = None, language: str = "en", source: str | None = None,
    occurred_at: datetime | None = None, dry_run: bool = False,
) -> Decision:
    """Decides for the contact with this external id (see the module doc). The caller
    commits; an unknown contact is a refusal ("unknown_contact"), logged like any other
    (`dry_run`: nothing is written)."""
    now = now or utcnow()
    session.flush()  # what the caller added is read by the statements below
    who, config = _find(session, org_id, by="external_id", key=contact_external_id,
                        lock=not dry_run)
    if who is None or config is None:
        found = [refusal("unknown_contact", language, contact_id=contact_external_id)]
        if dry_run:
            return Decision(False, survey_id, found, None, 0)
        return _finish(session, org_id, None, channel,
                       source or ("widget" if channel == "widget" else "api"), now,
                       Decision(False, survey_id, found, None, 0), dry_run)
    return _decide(session, org_id=org_id, who=who, config=config, event=event,
                   properties=properties, channel=channel, survey_id=survey_id, now=now,
                   language=language, source=source, occurred_at=occurred_at, triggers=None,
                   dry_run=dry_run)
