"""`check_many`: the fatigue rules for many contacts of one survey at once (a campaign's
batch), with the same answers as `fatigue.check` contact by contact but one set-based query
per rule instead of one per rule and contact.

    refusals = check_many(session, org_id=..., contact_ids=batch, survey_id=...,
                          channel="email", now=now, include_quiet_hours=False)
    # {contact_id: [Refusal, ...]}, [] = may invite
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from npsloop.contacts.models import Contact
from npsloop.contacts.service import IN_CHUNK
from npsloop.core.db import utcnow
from npsloop.distribution import service as distribution
from npsloop.distribution.models import Invitation
from npsloop.responses.models import Response
from npsloop.surveys.models import Survey
from npsloop.targeting.fatigue import (
    NOT_CONTACTED,
    PUSH_CHANNELS,
    Refusal,
    _aware,
    _stamp,
    contacted_at,
    refusal,
    sampled_in,
)
from npsloop.targeting.policy import effective_policy, quiet_until


def _chunks(ids: list[str]) -> list[list[str]]:
    return [ids[i:i + IN_CHUNK] for i in range(0, len(ids), IN_CHUNK)]


def _invited(org_id: str, ids: list[str], since: datetime, now: datetime):  # noqa: ANN202
    return (Invitation.org_id == org_id, Invitation.contact_id.in_(ids),
            Invitation.status.not_in(NOT_CONTACTED),
            or_(Invitation.status != "scheduled", Invitation.expires_at.is_(None),
                Invitation.expires_at > now),
            contacted_at() >= since)


def _last_contacts(session: Session, org_id: str, ids: list[str], since: datetime,
                   now: datetime) -> dict[str, datetime]:
    latest: dict[str, datetime] = {}
    for part in _chunks(ids):
        rows = list(session.execute(
            select(Invitation.contact_id, func.max(contacted_at()))
            .where(*_invited(org_id, part, since, now)).group_by(Invitation.contact_id)))
        rows += session.execute(
            select(Response.contact_id, func.max(Response.submitted_at))
            .where(Response.org_id == org_id, Response.contact_id.in_(part),
                   Response.submitted_at >= since).group_by(Response.contact_id))
        for contact_id, moment in rows:
            when = _aware(moment)
            if contact_id not in latest or when > latest[contact_id]:
                latest[contact_id] = when
    return latest


def check_many(
    session: Session, *, org_id: str, contact_ids: list[str], survey_id: str, channel: str,
    now: datetime | None = None, language: str = "en", include_quiet_hours: bool = True,
) -> dict[str, list[Refusal]]:
    """`fatigue.check` for each contact id (answers in the same rule order)."""
    now = now or utcnow()
    ids = list(dict.fromkeys(contact_ids))
    addresses: dict[str, tuple[str | None, str | None]] = {}
    for part in _chunks(ids):
        addresses.update({cid: (email, phone) for cid, email, phone in session.execute(
            select(Contact.id, Contact.email, Contact.phone)
            .where(Contact.org_id == org_id, Contact.id.in_(part)))})
    found: dict[str, list[Refusal]] = {
        cid: [] if cid in addresses else [refusal("unknown_contact", language, contact_id=cid)]
        for cid in ids}
    known = [cid for cid in ids if cid in addresses]
    if not known:
        return found
    survey = session.execute(select(Survey.name, Survey.status).where(
        Survey.id == survey_id, Survey.org_id == org_id)).first()
    if survey is None:
        for cid in known:
            found[cid] = [refusal("unknown_survey", language, survey_id=survey_id)]
        return found
    opted_out: set[str] = set()
    for part in _chunks(known):
        opted_out |= distribution.unsubscribed_among(session, org_id, part, channel)
    rules = effective_policy(session, org_id=org_id, survey_id=survey_id)
    last = _last_contacts(session, org_id, known, now - timedelta(days=rules.recontact_days),
                          now) if rules.recontact_days > 0 else {}
    sent: dict[str, int] = {}
    if rules.cap_count and rules.cap_days:
        since = now - timedelta(days=rules.cap_days)
        for part in _chunks(known):
            sent.update(dict(session.execute(
                select(Invitation.contact_id, func.count())
                .where(*_invited(org_id, part, since, now))
                .group_by(Invitation.contact_id)).all()))
    until = quiet_until(now, start=rules.quiet_start, end=rules.quiet_end, tz=rules.timezone) \
        if include_quiet_hours and channel in PUSH_CHANNELS else None
    for cid in known:
        out = found[cid]
        if survey.status != "live":
            out.append(refusal("survey_inactive", language, survey=survey.name,
                               status=survey.status))
        if cid in opted_out:
            out.append(refusal("unsubscribed", language, channel=channel))
        email, phone = addresses[cid]
        if (channel == "email" and not email) or (channel == "sms" and not phone):
            out.append(refusal("no_address", language, channel=channel))
        if cid in last:
            out.append(refusal(
                "recontact_window", language, days=rules.recontact_days,
                source=rules.recontact_source, last_contact=_stamp(last[cid], rules.timezone),
                next_allowed=_stamp(last[cid] + timedelta(days=rules.recontact_days),
                                    rules.timezone)))
        if rules.cap_count and sent.get(cid, 0) >= rules.cap_count:
            out.append(refusal("invitation_cap", language, count=sent[cid],
                               cap=rules.cap_count, days=rules.cap_days))
        inside, period = sampled_in(rules, survey_id=survey_id, contact_id=cid, now=now)
        if not inside:
            out.append(refusal("sampling", language, percent=f"{rules.sampling_percent:g}",
                               period=period))
        if until is not None:
            out.append(refusal("quiet_hours", language, start=rules.quiet_start,
                               end=rules.quiet_end, timezone=rules.timezone,
                               next_allowed=_stamp(until, rules.timezone)))
    return found
