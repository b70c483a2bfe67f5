"""Ask recent promoters to refer a friend (or to write a review), by email or SMS.

Who: contacts with a complete response scoring 9-10 in the last `lookback_days`, who have an
address for one of the chosen channels, and who were not asked by a campaign in the last
`COOLDOWN_DAYS`. Each gets their personal referral link (or the review link) in their own
language, through notify.service.enqueue (delivery, retries and rate limits are notify's);
each ask is recorded as a referral "asked" event tied to the campaign and the message.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from npsloop.accounts.models import Organization
from npsloop.contacts.models import Contact
from npsloop.core.db import utcnow
from npsloop.core.i18n import normalize_language, translate
from npsloop.notify import service as notify
from npsloop.notify.base import Notice
from npsloop.notify.models import NotifyChannel
from npsloop.notify.registry import notifier_class
from npsloop.referrals import codes, service
from npsloop.referrals.models import (
    AskChannel,
    CampaignPurpose,
    EventKind,
    ReferralCampaign,
    ReferralEvent,
)
from npsloop.responses.models import Response

COOLDOWN_DAYS = 30
MAX_PER_CAMPAIGN = 5000


@dataclass
class CampaignPlan:
    """Who would be asked and through which channel (a dry run shows this)."""

    targets: list[tuple[Contact, Response, NotifyChannel, str]] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)


def address_kind(channel: NotifyChannel) -> str | None:
    """"email" or "sms" for channels that send to a person; None for team chats."""
    if channel.kind == "email":
        return "email"
    cls = notifier_class(channel.kind)
    if cls is not None and getattr(cls, "needs_recipients", False):
        return "sms"
    return None


def check_channels(session: Session, org_id: str, channel_ids: list[str]) -> list[NotifyChannel]:
    if not channel_ids:
        raise service.ReferralError("channel_ids", "choose at least one email or SMS channel")
    channels = []
    for channel_id in dict.fromkeys(channel_ids):
        channel = notify.get_channel(session, org_id, channel_id)
        if channel is None:
            raise service.ReferralError("channel_ids", f"no such channel: {channel_id}")
        if address_kind(channel) is None:
            raise service.ReferralError(
                "channel_ids", f"channel '{channel.name}' cannot reach customers (email or SMS)")
        if not channel.enabled:
            raise service.ReferralError("channel_ids", f"channel '{channel.name}' is disabled")
        channels.append(channel)
    return channels


def plan_campaign(session: Session, org_id: str, *, lookback_days: int,
                  channels: list[NotifyChannel]) -> CampaignPlan:
    since = utcnow() - timedelta(days=lookback_days)
    latest = (select(Response.contact_id, func.max(Response.submitted_at).label("at"))
              .where(Response.org_id == org_id, Response.score >= 9,
                     Response.status == "complete", Response.contact_id.is_not(None),
                     Response.submitted_at >= since)
              .group_by(Response.contact_id).subquery())
    rows = session.execute(
        select(Contact, Response)
        .join(latest, latest.c.contact_id == Contact.id)
        .join(Response, (Response.contact_id == Contact.id)
              & (Response.submitted_at == latest.c.at) & (Response.org_id == org_id))
        .where(Contact.org_id == org_id)
        .order_by(latest.c.at.desc(), Contact.id)).all()
    recently = set(session.scalars(
        select(ReferralEvent.code_id).where(
            ReferralEvent.org_id == org_id, ReferralEvent.kind == EventKind.asked.value,
            ReferralEvent.campaign_id.is_not(None),
            ReferralEvent.occurred_at >= utcnow() - timedelta(days=COOLDOWN_DAYS))))
    email = next((c for c in channels if address_kind(c) == "email"), None)
    sms = next((c for c in channels if address_kind(c) == "sms"), None)
    plan = CampaignPlan()
    seen: set[str] = set()
    for contact, response in rows:
        if contact.id in seen:  # two answers at the same second
            continue
        seen.add(contact.id)
        if len(plan.targets) >= MAX_PER_CAMPAIGN:
            plan.skipped["over_limit"] += 1
            continue
        existing = service.find_code_for_contact(session, org_id, contact.id)
        if existing is not None and existing.id in recently:
            plan.skipped["recently_asked"] += 1
            continue
        if email is not None and contact.email:
            plan.targets.append((contact, response, email, contact.email))
        elif sms is not None and contact.phone:
            plan.targets.append((contact, response, sms, contact.phone))
        else:
            plan.skipped["no_address"] += 1
    return plan


def _message(purpose: str, lang: str, *, org_name: str, link: str, code: str,
             incentive: str) -> Notice:
    prefix = f"referrals.msg.{purpose}"
    text = translate(f"{prefix}.text", lang, org=org_name, code=codes.display(code))
    if incentive and purpose == CampaignPurpose.refer.value:
        text = f"{text}\n{incentive}"
    return Notice(title=translate(f"{prefix}.title", lang, org=org_name), text=text,
                  link_url=link, link_label=translate(f"{prefix}.link", lang), language=lang)


def run_campaign(session: Session, *, org_id: str, name: str, purpose: str,
                 lookback_days: int, channel_ids: list[str], actor: str, base_url: str,
                 dry_run: bool = False) -> dict[str, Any]:
    """Plans and (unless dry_run) enqueues the campaign; flushes, the caller commits."""
    try:
        purpose = CampaignPurpose(purpose).value
    except ValueError as exc:
        raise service.ReferralError("purpose", "must be refer or review") from exc
    settings = service.get_settings(session, org_id)
    if purpose == CampaignPurpose.review.value and not settings.review_url:
        raise service.ReferralError("purpose", "set a review URL in the referral settings "
                                               "before asking for reviews")
    channels = check_channels(session, org_id, channel_ids)
    plan = plan_campaign(session, org_id, lookback_days=lookback_days, channels=channels)
    result: dict[str, Any] = {"eligible": len(plan.targets) + sum(plan.skipped.values()),
                              "asked": len(plan.targets), "skipped": dict(plan.skipped),
                              "dry_run": dry_run, "campaign_id": None}
    if dry_run:
        result["sample"] = [{"contact_external_id": c.external_id, "channel": ch.name}
                            for c, _, ch, _ in plan.targets[:20]]
        return result
    campaign = ReferralCampaign(org_id=org_id, name=name.strip() or purpose, purpose=purpose,
                                lookback_days=lookback_days, channel_ids=[c.id for c in channels],
                                asked_count=len(plan.targets), skipped=dict(plan.skipped),
                                created_by=actor)
    session.add(campaign)
    session.flush()
    org = session.get(Organization, org_id)
    org_name = org.name if org else ""
    default_lang = org.default_language if org else "zh-CN"
    for contact, response, channel, address in plan.targets:
        code = service.code_for_response(session, response)
        lang = normalize_language(contact.language) or default_lang
        link = (settings.review_url if purpose == CampaignPurpose.review.value
                else f"{base_url.rstrip('/')}/r/{code.code}")
        incentive = settings.incentive_zh if lang == "zh-CN" else settings.incentive_en
        notice = _message(purpose, lang, org_name=org_name, link=link, code=code.code,
                          incentive=incentive)
        message = notify.enqueue(session, org_id=org_id, channel_id=channel.id, message=notice,
                                 recipients=[address],
                                 dedupe_key=f"referral:{campaign.id}:{contact.id}")
        kind = AskChannel.email if address_kind(channel) == "email" else AskChannel.sms
        service.record_ask(session, code, kind, campaign_id=campaign.id, message_id=message.id)
    result["campaign_id"] = campaign.id
    return result


def list_campaigns(session: Session, org_id: str, limit: int = 50) -> list[ReferralCampaign]:
    return list(session.scalars(select(ReferralCampaign).where(
        ReferralCampaign.org_id == org_id).order_by(ReferralCampaign.created_at.desc())
        .limit(limit)))


def reachable_channels(session: Session, org_id: str) -> list[NotifyChannel]:
    rows = session.scalars(select(NotifyChannel).where(
        NotifyChannel.org_id == org_id, NotifyChannel.enabled.is_(True),
        or_(NotifyChannel.kind == "email", NotifyChannel.kind.like("%sms%")))
        .order_by(NotifyChannel.name))
    return [c for c in rows if address_kind(c) is not None]
