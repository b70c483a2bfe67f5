"""The organisation's fatigue policy and a survey's override, read and written with checks.

An organisation that never saved a policy gets the defaults (30-day recontact window, every
eligible contact invited, no quiet hours, no cap): `effective_policy` never writes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, false, select
from sqlalchemy.orm import Session

from npsloop.accounts.models import Organization
from npsloop.accounts.service import get_organization
from npsloop.targeting.models import DEFAULT_RECONTACT_DAYS, FatiguePolicy, SurveyFatigueOverride

HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
MAX_DAYS = 3650


class PolicyError(ValueError):
    """A bad setting: `field` names it, the message says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Effective:
    """The rules that apply to one survey (organisation policy with the survey's override)."""

    timezone: str
    recontact_days: int
    recontact_source: str  # "organization" | "survey"
    sampling_percent: float
    quiet_start: str | None
    quiet_end: str | None
    cap_count: int | None
    cap_days: int | None


def get_policy(session: Session, *, org_id: str) -> FatiguePolicy | None:
    return session.scalar(select(FatiguePolicy).where(FatiguePolicy.org_id == org_id))


def get_override(session: Session, *, org_id: str, survey_id: str) -> SurveyFatigueOverride | None:
    return session.scalar(select(SurveyFatigueOverride).where(
        SurveyFatigueOverride.org_id == org_id, SurveyFatigueOverride.survey_id == survey_id))


def list_overrides(session: Session, *, org_id: str) -> list[SurveyFatigueOverride]:
    return list(session.scalars(select(SurveyFatigueOverride).where(
        SurveyFatigueOverride.org_id == org_id)))


def org_timezone(session: Session, org_id: str) -> str:
    org = get_organization(session, org_id)
    return org.timezone if org and org.timezone else "UTC"


def effective_policy(session: Session, *, org_id: str, survey_id: str | None) -> Effective:
    """One query: the organisation's time zone, its policy and the survey's override."""
    override_on = and_(SurveyFatigueOverride.org_id == Organization.id,
                       SurveyFatigueOverride.survey_id == survey_id) if survey_id else false()
    row = session.execute(
        select(Organization.timezone, FatiguePolicy, SurveyFatigueOverride)
        .select_from(Organization)
        .outerjoin(FatiguePolicy, FatiguePolicy.org_id == Organization.id)
        .outerjoin(SurveyFatigueOverride, override_on)
        .where(Organization.id == org_id)).first()
    timezone, policy, override = row if row is not None else (None, None, None)
    days = policy.recontact_days if policy else DEFAULT_RECONTACT_DAYS
    sampling = policy.sampling_percent if policy else 100.0
    source = "organization"
    if override is not None and override.recontact_days is not None:
        days, source = override.recontact_days, "survey"
    if override is not None and override.sampling_percent is not None:
        sampling = override.sampling_percent
    return Effective(
        timezone=timezone or "UTC", recontact_days=days, recontact_source=source,
        sampling_percent=sampling,
        quiet_start=policy.quiet_start if policy else None,
        quiet_end=policy.quiet_end if policy else None,
        cap_count=policy.cap_count if policy else None,
        cap_days=policy.cap_days if policy else None)


# -- quiet hours ------------------------------------------------------------------------------

def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def quiet_until(at: datetime, *, start: str | None, end: str | None, tz: str) -> datetime | None:
    """The moment the quiet hours around `at` end (aware, UTC), or None if `at` is outside
    them. start > end means the window crosses midnight (22:00-08:00)."""
    if not start or not end or start == end:
        return None
    zone = ZoneInfo(tz)
    local = at.astimezone(zone)
    begin, finish, now = _clock(start), _clock(end), local.time().replace(tzinfo=None)
    if begin < finish:
        inside = begin <= now < finish
        end_day = local.date()
    else:
        inside = now >= begin or now < finish
        end_day = local.date() + timedelta(days=1) if now >= begin else local.date()
    if not inside:
        return None
    # Built from the local wall clock, so a DST change inside the window is respected.
    return datetime.combine(end_day, finish, tzinfo=zone).astimezone(at.tzinfo or zone)


# -- writing ----------------------------------------------------------------------------------

def _days(field: str, value: int | None, *, allow_none: bool, minimum: int = 0) -> int | None:
    if value is None:
        if allow_none:
            return None
        raise PolicyError(field, "is required")
    if isinstance(value, bool) or not isinstance(value, int):
        raise PolicyError(field, "must be a whole number of days")
    if not minimum <= value <= MAX_DAYS:
        raise PolicyError(field, f"must be between {minimum} and {MAX_DAYS}")
    return value


def _percent(field: str, value: float | None, *, allow_none: bool) -> float | None:
    if value is None:
        if allow_none:
            return None
        raise PolicyError(field, "is required")
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise PolicyError(field, "must be a number from 0 to 100")
    return float(value)


def save_policy(
    session: Session, *, org_id: str, recontact_days: int, sampling_percent: float,
    quiet_start: str | None, quiet_end: str | None, cap_count: int | None,
    cap_days: int | None, actor: str = "",
) -> FatiguePolicy:
    """Validates every field (PolicyError names the first bad one) and upserts."""
    days = _days("recontact_days", recontact_days, allow_none=False)
    sampling = _percent("sampling_percent", sampling_percent, allow_none=False)
    quiet_start = (quiet_start or "").strip() or None
    quiet_end = (quiet_end or "").strip() or None
    for field, value in (("quiet_start", quiet_start), ("quiet_end", quiet_end)):
        if value is not None and not HHMM.match(value):
            raise PolicyError(field, "must be a time HH:MM (00:00-23:59)")
    if (quiet_start is None) != (quiet_end is None):
        raise PolicyError("quiet_end" if quiet_end is None else "quiet_start",
                          "quiet hours need both a start and an end")
    if quiet_start is not None and quiet_start == quiet_end:
        raise PolicyError("quiet_end", "must differ from quiet_start")
    if (cap_count is None) != (cap_days is None):
        raise PolicyError("cap_days" if cap_days is None else "cap_count",
                          "the invitation cap needs both a count and a period in days")
    if cap_count is not None:
        if isinstance(cap_count, bool) or not isinstance(cap_count, int) or not 1 <= cap_count \
                <= 1000:
            raise PolicyError("cap_count", "must be a whole number from 1 to 1000")
        _days("cap_days", cap_days, allow_none=False, minimum=1)
    policy = get_policy(session, org_id=org_id) or FatiguePolicy(org_id=org_id)
    policy.recontact_days = days  # type: ignore[assignment]
    policy.sampling_percent = sampling  # type: ignore[assignment]
    policy.quiet_start, policy.quiet_end = quiet_start, quiet_end
    policy.cap_count, policy.cap_days = cap_count, cap_days
    policy.updated_by = actor
    session.add(policy)
    session.flush()
    return policy


def save_override(
    session: Session, *, org_id: str, survey_id: str, recontact_days: int | None,
    sampling_percent: float | None,
) -> SurveyFatigueOverride | None:
    """Sets a survey's override; both None removes it (the survey follows the organisation)."""
    days = _days("recontact_days", recontact_days, allow_none=True)
    sampling = _percent("sampling_percent", sampling_percent, allow_none=True)
    override = get_override(session, org_id=org_id, survey_id=survey_id)
    if days is None and sampling is None:
        if override is not None:
            session.delete(override)
            session.flush()
        return None
    override = override or SurveyFatigueOverride(org_id=org_id, survey_id=survey_id)
    override.recontact_days, override.sampling_percent = days, sampling
    session.add(override)
    session.flush()
    return override
