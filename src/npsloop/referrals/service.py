"""Referral loop logic without HTTP: settings, codes, asks and shares, visits, conversions.

Guards (each has a test):
- no self-referral: a conversion whose customer is the promoter who owns the code is refused;
- one conversion per new customer and organisation (a repeat through the same code is an
  idempotent no-op, through another code a conflict);
- bursts: more than `burst_max_visits` visits from one address within `burst_window_minutes`
  flag every visit of that burst; flagged visits are kept but never counted in funnels.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from npsloop.contacts.models import Contact
from npsloop.core.db import utcnow
from npsloop.core.errors import InputError
from npsloop.core.outbox import emit
from npsloop.referrals import codes
from npsloop.referrals.models import (
    AskChannel,
    EventKind,
    ReferralCode,
    ReferralConversion,
    ReferralEvent,
    ReferralSettings,
    ReferralVisit,
    ShareMethod,
)
from npsloop.responses.models import Response
from npsloop.surveys.models import Survey

SHARE_DEDUPE = timedelta(minutes=10)  # one "shared" record per code and method per 10 min
USER_AGENT_MAX = 300
CODE_ATTEMPTS = 8


class ReferralError(InputError):
    """Bad input naming its field (see npsloop.core.errors.InputError)."""


# -- settings ----------------------------------------------------------------------------


def get_settings(session: Session, org_id: str) -> ReferralSettings:
    """The organisation's settings; an unsaved default row when none were stored."""
    row = session.get(ReferralSettings, org_id)
    if row is None:
        row = ReferralSettings(org_id=org_id, enabled=True, landing_url="", code_param="ref",
                               review_url="", share_text_zh="", share_text_en="",
                               incentive_zh="", incentive_en="", burst_max_visits=5,
                               burst_window_minutes=10)
    return row


def save_settings(session: Session, org_id: str, values: dict[str, Any]) -> ReferralSettings:
    row = session.get(ReferralSettings, org_id)
    if row is None:
        row = get_settings(session, org_id)
        session.add(row)
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_at = utcnow()
    session.flush()
    return row


def landing_redirect(settings: ReferralSettings, code: str) -> str | None:
    """The landing URL with the code added as a query parameter (other parameters kept)."""
    if not settings.landing_url:
        return None
    parts = urlsplit(settings.landing_url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k != settings.code_param]
    query.append((settings.code_param, code))
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", urlencode(query),
                       parts.fragment))


# -- codes -------------------------------------------------------------------------------


def find_code(session: Session, raw: str, org_id: str | None = None) -> ReferralCode | None:
    code = codes.normalize(raw or "")
    if code is None:
        return None
    query = select(ReferralCode).where(ReferralCode.code == code)
    if org_id is not None:
        query = query.where(ReferralCode.org_id == org_id)
    return session.scalar(query)


def _stage_of(response: Response | None, contact: Contact | None) -> str | None:
    if response is not None and (response.contact_attributes or {}).get("lifecycle_stage"):
        return str(response.contact_attributes["lifecycle_stage"])
    return contact.lifecycle_stage if contact is not None else None


def _insert_code(session: Session, row: ReferralCode) -> ReferralCode:
    """Adds a code, drawing again on the (astronomically rare) collision of two codes."""
    for _ in range(CODE_ATTEMPTS):
        row.code = codes.new_code()
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
            return row
        except IntegrityError:
            # The savepoint rollback expunged the row; it may be added again.
            existing = _existing_for(session, row)
            if existing is not None:
                return existing  # a concurrent request made this promoter's code
    raise RuntimeError("could not draw a unique referral code")


def _existing_for(session: Session, row: ReferralCode) -> ReferralCode | None:
    if row.contact_id:
        return session.scalar(select(ReferralCode).where(
            ReferralCode.org_id == row.org_id, ReferralCode.contact_id == row.contact_id))
    if row.response_id:
        return session.scalar(select(ReferralCode).where(
            ReferralCode.response_id == row.response_id))
    return None


def code_for_response(session: Session, response: Response) -> ReferralCode:
    """The promoter's code: the contact's own if the response has a contact, else one tied
    to this (anonymous) response. Made on first need; flushes, does not commit."""
    contact = session.get(Contact, response.contact_id) if response.contact_id else None
    row = ReferralCode(org_id=response.org_id, contact_id=contact.id if contact else None,
                       response_id=response.id)
    existing = _existing_for(session, row)
    if existing is None and contact is not None:
        # The contact's code may have been made from another response: reuse it.
        existing = session.scalar(select(ReferralCode).where(
            ReferralCode.response_id == response.id))
    if existing is not None:
        return existing
    survey = session.get(Survey, response.survey_id)
    row.referrer_external_id = contact.external_id if contact else None
    row.survey_id = response.survey_id
    row.touchpoint = survey.touchpoint if survey else ""
    row.lifecycle_stage = _stage_of(response, contact)
    row.score = response.score
    return _insert_code(session, row)


def record_ask(session: Session, code: ReferralCode, channel: AskChannel, *,
               response_id: str | None = None, campaign_id: str | None = None,
               message_id: str | None = None, at: datetime | None = None) -> bool:
    """Notes that the promoter was invited; a thank-you page shown twice counts once."""
    if response_id is not None and session.scalar(select(ReferralEvent.id).where(
            ReferralEvent.code_id == code.id, ReferralEvent.kind == EventKind.asked.value,
            ReferralEvent.response_id == response_id)):
        return False
    session.add(ReferralEvent(org_id=code.org_id, code_id=code.id, kind=EventKind.asked.value,
                              channel=channel.value, response_id=response_id,
                              campaign_id=campaign_id, message_id=message_id,
                              occurred_at=at or utcnow()))
    session.flush()
    return True


def record_share(session: Session, code: ReferralCode, method: str,
                 at: datetime | None = None) -> bool:
    try:
        method = ShareMethod(method).value
    except ValueError as exc:
        allowed = ", ".join(m.value for m in ShareMethod)
        raise ReferralError("method", f"must be one of {allowed}") from exc
    now = at or utcnow()
    recent = session.scalar(select(ReferralEvent.id).where(
        ReferralEvent.code_id == code.id, ReferralEvent.kind == EventKind.shared.value,
        ReferralEvent.channel == method, ReferralEvent.occurred_at >= now - SHARE_DEDUPE))
    if recent:
        return False
    session.add(ReferralEvent(org_id=code.org_id, code_id=code.id,
                              kind=EventKind.shared.value, channel=method, occurred_at=now))
    session.flush()
    return True


# -- visits ------------------------------------------------------------------------------


def hash_ip(secret_key: str, org_id: str, ip: str) -> str:
    """Keyed, per-organisation hash: equal addresses match within one organisation only,
    and the address cannot be recovered without the server's secret."""
    message = f"{org_id}:{ip}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def record_visit(session: Session, code: ReferralCode, *, ip: str, user_agent: str,
                 secret_key: str, at: datetime | None = None) -> ReferralVisit:
    settings = get_settings(session, code.org_id)
    now = at or utcnow()
    ip_hash = hash_ip(secret_key, code.org_id, ip)
    visit = ReferralVisit(org_id=code.org_id, code_id=code.id, ip_hash=ip_hash,
                          user_agent=(user_agent or "")[:USER_AGENT_MAX], visited_at=now)
    session.add(visit)
    session.flush()
    since = now - timedelta(minutes=settings.burst_window_minutes)
    in_window = (ReferralVisit.org_id == code.org_id, ReferralVisit.ip_hash == ip_hash,
                 ReferralVisit.visited_at >= since, ReferralVisit.visited_at <= now)
    count = session.scalar(select(func.count()).select_from(ReferralVisit).where(*in_window))
    if (count or 0) > settings.burst_max_visits:
        # The whole burst is suspect, its first visits included.
        session.execute(update(ReferralVisit).where(*in_window, ReferralVisit.flagged.is_(False))
                        .values(flagged=True, flag_reason="burst")
                        .execution_options(synchronize_session=False))
        session.refresh(visit)
    return visit


# -- conversions -------------------------------------------------------------------------


@dataclass
class ConversionResult:
    conversion: ReferralConversion
    created: bool


def record_conversion(session: Session, *, org_id: str, raw_code: str, customer_external_id: str,
                      value: float | None, actor: str,
                      converted_at: datetime | None = None) -> ConversionResult:
    code = find_code(session, raw_code, org_id)
    if code is None:
        raise ReferralError("code", "referral code not found", 404)
    customer = customer_external_id.strip()
    if not customer:
        raise ReferralError("customer_external_id", "must not be empty")
    if code.referrer_external_id is not None and customer == code.referrer_external_id:
        raise ReferralError("customer_external_id",
                            "self-referral: the new customer is the promoter who owns this code")
    existing = session.scalar(select(ReferralConversion).where(
        ReferralConversion.org_id == org_id,
        ReferralConversion.customer_external_id == customer))
    if existing is not None:
        if existing.code_id == code.id:
            return ConversionResult(existing, created=False)
        raise ReferralError("customer_external_id",
                            "this customer was already converted through another code", 409)
    conversion = ReferralConversion(org_id=org_id, code_id=code.id,
                                    customer_external_id=customer, value=value,
                                    converted_at=converted_at or utcnow(), recorded_by=actor)
    try:
        with session.begin_nested():
            session.add(conversion)
            session.flush()
    except IntegrityError as exc:
        # A concurrent request recorded this customer first: answer as a repeat would.
        return _after_race(session, org_id, customer, code, exc)
    _promote_referrer(session, code)
    emit(session, org_id=org_id, topic="referral.converted",
         payload={"conversion_id": conversion.id, "code_id": code.id,
                  "customer_external_id": customer})
    return ConversionResult(conversion, created=True)


def _after_race(session: Session, org_id: str, customer: str, code: ReferralCode,
                exc: IntegrityError) -> ConversionResult:
    existing = session.scalar(select(ReferralConversion).where(
        ReferralConversion.org_id == org_id,
        ReferralConversion.customer_external_id == customer))
    if existing is None:
        raise exc
    if existing.code_id != code.id:
        raise ReferralError("customer_external_id",
                            "this customer was already converted through another code", 409)
    return ConversionResult(existing, created=False)


def _promote_referrer(session: Session, code: ReferralCode) -> None:
    """A promoter who brought a customer is in the *referral* lifecycle stage now."""
    if not code.contact_id:
        return
    contact = session.get(Contact, code.contact_id)
    if contact is None or contact.lifecycle_stage == "referral":
        return
    session.info["lifecycle_source"] = "referral_conversion"
    try:
        contact.lifecycle_stage = "referral"
        session.flush()
    finally:
        session.info.pop("lifecycle_source", None)


def find_code_for_contact(session: Session, org_id: str, contact_id: str) -> ReferralCode | None:
    return session.scalar(select(ReferralCode).where(ReferralCode.org_id == org_id,
                                                     ReferralCode.contact_id == contact_id))
