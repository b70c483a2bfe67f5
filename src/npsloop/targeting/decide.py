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

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from npsloop.contacts import segments
from npsloop.contacts.models import Contact, Segment
from npsloop.contacts.service import get_by_external_id
from npsloop.core.db import utcnow
from npsloop.distribution import service as distribution
from npsloop.distribution.models import Invitation
from npsloop.surveys.models import Survey
from npsloop.targeting import conditions as conds
from npsloop.targeting.fatigue import (
    PUSH_CHANNELS,
    Refusal,
    check,
    log_decision,
    next_allowed_send,
    refusal,
)
from npsloop.targeting.models import Trigger

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


def active_triggers(session: Session, *, org_id: str, event: str, channels: tuple[str, ...],
                    survey_id: str | None = None) -> list[Trigger]:
    query = select(Trigger).where(Trigger.org_id == org_id, Trigger.event_name == event,
                                  Trigger.active.is_(True), Trigger.channel.in_(channels))
    if survey_id is not None:
        query = query.where(Trigger.survey_id == survey_id)
    return list(session.scalars(query.order_by(Trigger.created_at, Trigger.id)))


def due_widget_invitation(session: Session, *, org_id: str, contact_id: str, now: datetime,
                          survey_id: str | None = None) -> Invitation | None:
    """A widget invitation a trigger scheduled for this contact, due, not expired, of a
    survey still live."""
    query = select(Invitation).join(Survey, Survey.id == Invitation.survey_id).where(
        Survey.status == "live",
        Invitation.contact_id == contact_id, Invitation.org_id == org_id,
        Invitation.channel == "widget", Invitation.status == "scheduled",
        Invitation.send_at <= now,
        (Invitation.expires_at.is_(None)) | (Invitation.expires_at > now))
    if survey_id is not None:
        query = query.where(Invitation.survey_id == survey_id)
    return session.scalar(query.order_by(Invitation.send_at).limit(1))


def _targeting_refusals(session: Session, trigger: Trigger, contact: Contact,
                        properties: dict | None, now: datetime, language: str) -> list[Refusal]:
    failed = conds.failing(trigger.conditions or [], properties)
    if failed:
        return [refusal("conditions_not_met", language, trigger=trigger.name,
                        conditions="; ".join(conds.describe(c) for c in failed))]
    if trigger.segment_id:
        segment = session.get(Segment, trigger.segment_id)
        # Whole minutes: the compiled segment clause is cached per minute.
        if segment is None or not segments.contact_matches(
                session, trigger.org_id, segment, contact.id,
                now=now.replace(second=0, microsecond=0)):
            return [refusal("not_in_segment", language, trigger=trigger.name,
                            segment=segment.name if segment else trigger.segment_id)]
    return []


def _send_at(session: Session, *, org_id: str, channel: str, base: datetime, delay: int,
             now: datetime) -> datetime:
    moment = max(base + timedelta(seconds=delay), now)
    return next_allowed_send(session, org_id=org_id, at=moment) if channel in PUSH_CHANNELS \
        else moment


def lock_contact(session: Session, contact_id: str) -> None:
    """Serialises decisions for one contact until the caller commits, so two at once (two
    workers, a double-clicked widget) cannot both pass the recontact window and both invite.
    PostgreSQL locks the contact's row; SQLite takes its database write lock now rather than
    at the first insert (a no-op UPDATE), so the second decision reads after the first."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(Contact.id).where(Contact.id == contact_id).with_for_update())
    else:
        table = Contact.__table__
        # Core, and updated_at set to itself: the column's onupdate must not touch it.
        session.execute(update(table).where(table.c.id == contact_id)
                        .values(id=table.c.id, updated_at=table.c.updated_at))


def decide_for_contact(
    session: Session, *, org_id: str, contact: Contact, event: str | None,
    properties: dict | None = None, channel: str = "widget", survey_id: str | None = None,
    now: datetime | None = None, language: str = "en", source: str | None = None,
    occurred_at: datetime | None = None, triggers: list[Trigger] | None = None,
    dry_run: bool = False,
) -> Decision:
    """`decide` for a known contact; `triggers` (already loaded by the caller) replaces the
    lookup, as the outbox handler does for a batch of events. `dry_run` writes nothing (no
    invitation, no log row): the answer says what would happen, with
    `extras["send_at"]` when eligible."""
    now = now or utcnow()
    source = source or ("widget" if channel == "widget" else "api")
    if not dry_run:
        lock_contact(session, contact.id)
    # The widget asking what to show gets a waiting invitation first; a trigger firing
    # (source "trigger") decides afresh.
    if channel == "widget" and source != "trigger":
        pending = due_widget_invitation(session, org_id=org_id, contact_id=contact.id,
                                        now=now, survey_id=survey_id)
        if pending is not None and not dry_run:
            log_decision(session, org_id=org_id, contact_id=contact.id,
                         survey_id=pending.survey_id, channel=channel, source=source,
                         eligible=True, refusals=[], invitation_id=pending.id,
                         trigger_id=pending.trigger_id, at=now)
        if pending is not None:
            return Decision(True, pending.survey_id, [], pending, 0, pending.trigger_id,
                            contact.id)
    if triggers is None:
        triggers = active_triggers(session, org_id=org_id, event=event, channels=(channel,),
                                   survey_id=survey_id) if event else []
    candidates: list[tuple[Trigger | None, str, int]] = [
        (t, t.survey_id, t.delay_seconds) for t in triggers]
    if not candidates and survey_id is not None:
        candidates = [(None, survey_id, 0)]
    if not candidates:
        found = [refusal("no_trigger", language, event=event or "-", channel=channel)]
        return _finish(session, org_id, contact, channel, source, now,
                       Decision(False, survey_id, found, None, 0, None, contact.id), dry_run)
    base = occurred_at or now
    decision: Decision | None = None
    for trigger, candidate_survey, delay in candidates:
        trigger_id = trigger.id if trigger else None
        if base + timedelta(seconds=delay) < now - STALE_AFTER:
            found = [refusal("stale_event", language, event=event or "-",
                             occurred_at=f"{base:%Y-%m-%d %H:%M} UTC",
                             hours=int(STALE_AFTER.total_seconds() // 3600))]
        elif trigger is not None:
            found = _targeting_refusals(session, trigger, contact, properties, now, language)
        else:
            found = []
        if not found:
            found = check(session, org_id=org_id, contact_id=contact.id,
                          survey_id=candidate_survey, channel=channel, now=now,
                          language=language, include_quiet_hours=False)
        if not found:
            send_at = _send_at(session, org_id=org_id, channel=channel, base=base,
                               delay=delay, now=now)
            if dry_run:
                decision = Decision(True, candidate_survey, [], None, delay, trigger_id,
                                    contact.id, {"send_at": send_at})
                break
            invitation = distribution.create_invitation(
                session, org_id=org_id, survey_id=candidate_survey, contact_id=contact.id,
                channel=channel, source=source, send_at=send_at, trigger_id=trigger_id,
                expires_at=send_at + EXPIRES_AFTER.get(channel, DEFAULT_EXPIRY))
            decision = Decision(True, candidate_survey, [], invitation, delay, trigger_id,
                                contact.id)
            break
        # Prefer explaining the candidate that got furthest (past targeting, into fatigue).
        if decision is None or found[0].rule not in ("conditions_not_met", "not_in_segment"):
            decision = Decision(False, candidate_survey, found, None, delay, trigger_id,
                                contact.id)
        if found[0].rule in CONTACT_WIDE:
            break
    assert decision is not None
    return _finish(session, org_id, contact, channel, source, now, decision, dry_run)


def _finish(session: Session, org_id: str, contact: Contact, channel: str, source: str,
            now: datetime, decision: Decision, dry_run: bool = False) -> Decision:
    if dry_run:
        return decision
    log_decision(session, org_id=org_id, contact_id=contact.id, survey_id=decision.survey_id,
                 channel=channel, source=source, eligible=decision.eligible,
                 refusals=decision.refusals,
                 invitation_id=decision.invitation.id if decision.invitation else None,
                 trigger_id=decision.trigger_id, at=now)
    session.flush()
    return decision


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
    contact = get_by_external_id(session, org_id=org_id, external_id=contact_external_id)
    if contact is None:
        found = [refusal("unknown_contact", language, contact_id=contact_external_id)]
        if dry_run:
            return Decision(False, survey_id, found, None, 0)
        log_decision(session, org_id=org_id, contact_id=None, survey_id=survey_id,
                     channel=channel, source=source or ("widget" if channel == "widget"
                                                         else "api"),
                     eligible=False, refusals=found, at=now)
        session.flush()
        return Decision(False, survey_id, found, None, 0)
    return decide_for_contact(session, org_id=org_id, contact=contact, event=event,
                              properties=properties, channel=channel, survey_id=survey_id,
                              now=now, language=language, source=source,
                              occurred_at=occurred_at, dry_run=dry_run)
