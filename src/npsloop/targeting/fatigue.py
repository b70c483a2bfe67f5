"""Contact fatigue: may this contact be invited to this survey by this channel now?

`check` returns every rule that says no ([] = may invite), each with a sentence in the
caller's language and the numbers behind it. The rules, in the order they are reported:

  unknown_contact / unknown_survey - the ids do not exist in this organisation;
  survey_inactive   - the survey is not live;
  unsubscribed      - the contact opted out of this channel (distribution decides);
  no_address        - email without an email address, SMS without a phone number;
  recontact_window  - invited (sent, or scheduled and still valid) or answered any survey
                      within the window (organisation default 30 days, or the survey's own);
  invitation_cap    - already cap_count invitations within cap_days;
  sampling          - outside the sampled share: a hash of (survey, contact, local month),
                      so a retry in the same month gets the same answer;
  quiet_hours       - email/SMS during the organisation's quiet hours (local time).

Everything the rules need is read in one statement (`facts_columns`: a scalar subquery per
fact, each on an index keyed by the contact, no scans), so a check costs one round trip
whatever the size of the organisation; `judge` applies the rules to what was read, for
`check` and for `decide`, which adds the columns to its own statement.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, literal, null, or_, select
from sqlalchemy.orm import Session

from npsloop.contacts.models import Contact
from npsloop.core.db import utcnow
from npsloop.core.i18n import translate
from npsloop.distribution.models import Invitation, Unsubscribe
from npsloop.responses.models import Response
from npsloop.surveys.models import Survey
from npsloop.targeting.models import DecisionLog
from npsloop.targeting.policy import Effective, effective_policy, quiet_until

PUSH_CHANNELS = ("email", "sms")  # sent to the contact, so quiet hours apply
# Invitations that did not reach (or will never reach) the contact do not count as contact.
NOT_CONTACTED = ("failed", "cancelled", "expired")


@dataclass
class Refusal:
    rule: str
    message: str
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "message": self.message, "params": self.params}


def refusal(rule: str, language: str, **params: Any) -> Refusal:
    return Refusal(rule=rule, message=translate(f"targeting.rule.{rule}", language, **params),
                   params=params)


def _stamp(moment: datetime, tz: str) -> str:
    """A moment as the organisation reads it: '2026-12-04 21:30 (Asia/Shanghai)'."""
    return f"{moment.astimezone(ZoneInfo(tz)):%Y-%m-%d %H:%M} ({tz})"


def contacted_at():  # noqa: ANN201 - a SQL expression
    """When an invitation counts as contact: sent, else its planned send, else creation."""
    return func.coalesce(Invitation.sent_at, Invitation.send_at, Invitation.created_at)


def _aware(moment: datetime | str) -> datetime:
    # MAX() over a COALESCE loses the column type on SQLite: the value comes back as text.
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo("UTC"))


def sample_bucket(*, survey_id: str, contact_id: str, period: str) -> float:
    """A stable number in [0, 100) for (survey, contact, period)."""
    digest = hashlib.sha256(f"{survey_id}:{contact_id}:{period}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100


def sampled_in(rules: Effective, *, survey_id: str, contact_id: str, now: datetime) -> tuple[
        bool, str]:
    period = f"{now.astimezone(ZoneInfo(rules.timezone)):%Y-%m}"
    if rules.sampling_percent >= 100:
        return True, period
    bucket = sample_bucket(survey_id=survey_id, contact_id=contact_id, period=period)
    return bucket < rules.sampling_percent, period


@dataclass(frozen=True)
class Facts:
    """What the rules need to know about one contact and survey, read in one statement."""

    survey_name: str | None  # None: no such survey in the organisation
    survey_status: str | None
    unsubscribed: bool
    last_contact: datetime | None  # latest invitation or answer inside the recontact window
    sent: int  # invitations inside the cap window (0 without a cap)


_inv = Invitation.__table__.c
_resp = Response.__table__.c
_surveys = Survey.__table__.c
_unsub = Unsubscribe.__table__.c
_FACTS: dict[tuple[bool, bool], list[Any]] = {}


def _contacted_since(since: str) -> tuple[Any, ...]:
    # Invitations that count as contact since `since`, over bound parameters so the
    # statement is built once. A widget invitation nobody showed before it expired never
    # reached the contact.
    return (_inv.org_id == bindparam("org_id"), _inv.contact_id == bindparam("contact_id"),
            _inv.status.not_in(NOT_CONTACTED),
            or_(_inv.status != "scheduled", _inv.expires_at.is_(None),
                _inv.expires_at > bindparam("now")),
            func.coalesce(_inv.sent_at, _inv.send_at, _inv.created_at) >= bindparam(since))


def facts_columns(*, recontact: bool, cap: bool) -> list[Any]:
    """The columns of `Facts` as scalar subqueries over bound parameters (org_id,
    contact_id, survey_id, channel, now, recontact_since, cap_since), to select on their
    own or beside other columns: one round trip for every rule."""
    key = (recontact, cap)
    if key not in _FACTS:
        survey = (_surveys.id == bindparam("survey_id"), _surveys.org_id == bindparam("org_id"))
        columns: list[Any] = [
            select(_surveys.name).where(*survey).scalar_subquery().label("survey_name"),
            select(_surveys.status).where(*survey).scalar_subquery().label("survey_status"),
            # distribution.is_unsubscribed: this channel, or all of them.
            select(_unsub.id).where(
                _unsub.org_id == bindparam("org_id"), _unsub.contact_id == bindparam("contact_id"),
                or_(_unsub.channel == bindparam("channel"), _unsub.channel == "all"),
            ).exists().label("unsubscribed"),
            (select(func.max(func.coalesce(_inv.sent_at, _inv.send_at, _inv.created_at)))
             .where(*_contacted_since("recontact_since")).scalar_subquery() if recontact
             else null()).label("invited"),
            # `org_id || ''`: the contact's own responses (contact_id index), not a walk of
            # the organisation's window on (org_id, submitted_at), where SQLite would go.
            (select(func.max(_resp.submitted_at)).where(
                _resp.contact_id == bindparam("contact_id"),
                _resp.org_id + "" == bindparam("org_id"),
                _resp.submitted_at >= bindparam("recontact_since")).scalar_subquery()
             if recontact else null()).label("answered"),
            (select(func.count()).select_from(Invitation.__table__)
             .where(*_contacted_since("cap_since")).scalar_subquery() if cap
             else literal(0)).label("sent"),
        ]
        _FACTS[key] = columns
    return _FACTS[key]


def facts_params(rules: Effective, *, org_id: str, contact_id: str, survey_id: str,
                 channel: str, now: datetime) -> dict[str, Any]:
    params: dict[str, Any] = {"org_id": org_id, "contact_id": contact_id,
                              "survey_id": survey_id, "channel": channel, "now": now}
    if rules.recontact_days > 0:
        params["recontact_since"] = now - timedelta(days=rules.recontact_days)
    if rules.cap_count and rules.cap_days:
        params["cap_since"] = now - timedelta(days=rules.cap_days)
    return params


def facts_shape(rules: Effective) -> dict[str, bool]:
    return {"recontact": rules.recontact_days > 0, "cap": bool(rules.cap_count and rules.cap_days)}


def facts_from(row: Any) -> Facts:
    """Facts from a row holding the `facts_columns` (by label)."""
    found = [_aware(m) for m in (row.invited, row.answered) if m is not None]
    return Facts(survey_name=row.survey_name, survey_status=row.survey_status,
                 unsubscribed=bool(row.unsubscribed), last_contact=max(found) if found else None,
                 sent=int(row.sent or 0))


def judge(facts: Facts, rules: Effective, *, survey_id: str, contact_id: str,
          email: str | None, phone: str | None, channel: str, now: datetime, language: str,
          include_quiet_hours: bool) -> list[Refusal]:
    """The rules applied to what was read (see `check`)."""
    if facts.survey_status is None:
        return [refusal("unknown_survey", language, survey_id=survey_id)]
    found: list[Refusal] = []
    if facts.survey_status != "live":
        found.append(refusal("survey_inactive", language, survey=facts.survey_name,
                             status=facts.survey_status))
    if facts.unsubscribed:
        found.append(refusal("unsubscribed", language, channel=channel))
    if (channel == "email" and not email) or (channel == "sms" and not phone):
        found.append(refusal("no_address", language, channel=channel))
    if rules.recontact_days > 0 and facts.last_contact is not None:
        last = facts.last_contact
        found.append(refusal(
            "recontact_window", language, days=rules.recontact_days,
            source=rules.recontact_source, last_contact=_stamp(last, rules.timezone),
            next_allowed=_stamp(last + timedelta(days=rules.recontact_days), rules.timezone)))
    if rules.cap_count and rules.cap_days and facts.sent >= rules.cap_count:
        found.append(refusal("invitation_cap", language, count=facts.sent, cap=rules.cap_count,
                             days=rules.cap_days))
    inside, period = sampled_in(rules, survey_id=survey_id, contact_id=contact_id, now=now)
    if not inside:
        found.append(refusal("sampling", language, percent=f"{rules.sampling_percent:g}",
                             period=period))
    if include_quiet_hours and channel in PUSH_CHANNELS:
        until = quiet_until(now, start=rules.quiet_start, end=rules.quiet_end,
                            tz=rules.timezone)
        if until is not None:
            found.append(refusal("quiet_hours", language, start=rules.quiet_start,
                                 end=rules.quiet_end, timezone=rules.timezone,
                                 next_allowed=_stamp(until, rules.timezone)))
    return found


def check(
    session: Session, *, org_id: str, contact_id: str, survey_id: str, channel: str,
    now: datetime | None = None, language: str = "en", include_quiet_hours: bool = True,
) -> list[Refusal]:
    """Every rule that forbids inviting now ([] = may invite). `include_quiet_hours=False`
    leaves quiet hours to the caller, which then holds the send with `next_allowed_send`."""
    now = now or utcnow()
    contact = session.get(Contact, contact_id)
    if contact is None or contact.org_id != org_id:
        return [refusal("unknown_contact", language, contact_id=contact_id)]
    rules = effective_policy(session, org_id=org_id, survey_id=survey_id)
    session.flush()  # the statement below goes to the connection, past the autoflush
    row = session.connection().execute(
        select(*facts_columns(**facts_shape(rules))),
        facts_params(rules, org_id=org_id, contact_id=contact_id, survey_id=survey_id,
                     channel=channel, now=now)).one()
    return judge(facts_from(row), rules, survey_id=survey_id, contact_id=contact_id,
                 email=contact.email, phone=contact.phone, channel=channel, now=now,
                 language=language, include_quiet_hours=include_quiet_hours)


def next_allowed_send(session: Session, *, org_id: str, at: datetime) -> datetime:
    """`at`, or the end of the quiet hours it falls in (the organisation's local time)."""
    rules = effective_policy(session, org_id=org_id, survey_id=None)
    until = quiet_until(at, start=rules.quiet_start, end=rules.quiet_end, tz=rules.timezone)
    return until or at


def log_decision(
    session: Session, *, org_id: str, contact_id: str | None, survey_id: str | None,
    channel: str, source: str, eligible: bool, refusals: list[Refusal],
    invitation_id: str | None = None, trigger_id: str | None = None,
    at: datetime | None = None,
) -> None:
    """Adds one row to the decision log (the caller's transaction commits it). Reasons keep
    rule and parameters only: the log page translates them into the reader's language."""
    session.add(DecisionLog(
        org_id=org_id, created_at=at or utcnow(), contact_id=contact_id, survey_id=survey_id,
        channel=channel, source=source, eligible=eligible,
        rule=refusals[0].rule if refusals else None,
        reasons=[{"rule": r.rule, "params": r.params} for r in refusals],
        invitation_id=invitation_id, trigger_id=trigger_id))
