"""Win-back campaigns to at-risk detractors, with a randomised holdout and a measured effect.

Who: contacts whose latest answer was a detractor's and whose model churn risk is at least
`min_risk`, or who are in a chosen segment (or both), who have an address for one of the
chosen channels and were in no win-back campaign (either group) in the last COOLDOWN_DAYS.
The eligible list is shuffled with a fresh random seed (stored on the campaign) and the
first `holdout_share` of it is kept back: they get nothing. Everyone else gets the offer in
their own language through notify.

Effect: repurchase and churn rates of the contacted and the holdout group in the
`window_days` after the send, their difference with Newcombe's 95% interval and a
two-proportion z-test. Because the groups were drawn at random from the same list, that
difference is the campaign's causal effect (intention to treat: a failed delivery still
counts as contacted).
"""

from __future__ import annotations

import random
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, exists, func, insert, not_, select
from sqlalchemy.orm import Session

from npsloop.accounts.models import Organization
from npsloop.contacts.models import Contact, Event
from npsloop.core.db import utcnow
from npsloop.core.i18n import normalize_language, translate
from npsloop.notify import service as notify
from npsloop.notify.base import Notice
from npsloop.notify.models import NotifyChannel
from npsloop.outcomes import stats
from npsloop.outcomes.models import (
    ContactScore,
    Group,
    Outcome,
    OutcomeSettings,
    WinbackCampaign,
    WinbackRecipient,
)
from npsloop.outcomes.service import OutcomeError, check_window, get_settings
from npsloop.referrals.campaigns import address_kind
from npsloop.referrals.campaigns import check_channels as referral_check_channels
from npsloop.referrals.service import ReferralError

COOLDOWN_DAYS = 30
MAX_PER_CAMPAIGN = 5000
MIN_HOLDOUT, MAX_HOLDOUT = 0.05, 0.5


@dataclass
class WinbackPlan:
    """Eligible contacts (with the address to use) and why others were left out."""

    targets: list[tuple[Contact, float | None, NotifyChannel, str]] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)


def check_channels(session: Session, org_id: str, channel_ids: list[str]) -> list[NotifyChannel]:
    try:
        return referral_check_channels(session, org_id, channel_ids)
    except ReferralError as exc:
        raise OutcomeError(exc.field, exc.message) from exc


def plan(session: Session, org_id: str, *, min_risk: float | None, segment_id: str | None,
         channels: list[NotifyChannel], now: datetime) -> WinbackPlan:
    if min_risk is None and not segment_id:
        raise OutcomeError("min_risk", "give a minimum churn risk, a segment, or both")
    query = (select(Contact, ContactScore.churn_risk)
             .join(ContactScore, ContactScore.contact_id == Contact.id)
             .where(Contact.org_id == org_id, ContactScore.org_id == org_id,
                    ContactScore.category == "detractor"))
    if min_risk is not None:
        query = query.where(ContactScore.churn_risk >= min_risk)
    if segment_id:
        from npsloop.contacts.segments import SegmentNotFound, segment_contact_ids

        try:
            query = query.where(Contact.id.in_(segment_contact_ids(session, org_id, segment_id)))
        except SegmentNotFound as exc:
            raise OutcomeError("segment_id", f"no such segment: {segment_id}", 404) from exc
    recent = exists(select(WinbackRecipient.contact_id).join(
        WinbackCampaign, WinbackCampaign.id == WinbackRecipient.campaign_id).where(
        WinbackRecipient.org_id == org_id, WinbackRecipient.contact_id == Contact.id,
        WinbackCampaign.created_at >= now - timedelta(days=COOLDOWN_DAYS)))
    rows = session.execute(query.add_columns(recent.label("recent"))
                           .order_by(ContactScore.churn_risk.desc(), Contact.id)).all()
    email = next((c for c in channels if address_kind(c) == "email"), None)
    sms = next((c for c in channels if address_kind(c) == "sms"), None)
    result = WinbackPlan()
    for contact, risk, was_recent in rows:
        if was_recent:
            result.skipped["recently_contacted"] += 1
        elif len(result.targets) >= MAX_PER_CAMPAIGN:
            result.skipped["over_limit"] += 1
        elif email is not None and contact.email:
            result.targets.append((contact, risk, email, contact.email))
        elif sms is not None and contact.phone:
            result.targets.append((contact, risk, sms, contact.phone))
        else:
            result.skipped["no_address"] += 1
    return result


def assign_holdout(contact_ids: list[str], share: float, seed: str) -> set[str]:
    """The ids kept back: a uniformly random `round(share * n)` of them, reproducible from
    the seed (the input order does not matter)."""
    ordered = sorted(contact_ids)
    random.Random(seed).shuffle(ordered)
    return set(ordered[:round(share * len(ordered))])


def _message(lang: str, *, org_name: str, offer: str) -> Notice:
    text = translate("outcomes.msg.text", lang, org=org_name)
    if offer:
        text = f"{text}\n{offer}"
    return Notice(title=translate("outcomes.msg.title", lang, org=org_name), text=text,
                  language=lang)


def run(session: Session, *, org_id: str, name: str, min_risk: float | None,
        segment_id: str | None, holdout_share: float, window_days: int | None,
        offer_zh: str, offer_en: str, channel_ids: list[str], actor: str,
        dry_run: bool = False, now: datetime | None = None) -> dict[str, Any]:
    """Plans, draws the holdout and (unless dry_run) enqueues the offers; flushes."""
    now = now or utcnow()
    if not MIN_HOLDOUT <= holdout_share <= MAX_HOLDOUT:
        raise OutcomeError("holdout_share", f"must be between {MIN_HOLDOUT} and {MAX_HOLDOUT}")
    if min_risk is not None and not 0 <= min_risk <= 1:
        raise OutcomeError("min_risk", "must be between 0 and 1")
    settings = get_settings(session, org_id)
    window = check_window(window_days or settings.window_days)
    if not (offer_zh.strip() or offer_en.strip()):
        raise OutcomeError("offer_zh", "write the offer in at least one language")
    channels = check_channels(session, org_id, channel_ids)
    found = plan(session, org_id, min_risk=min_risk, segment_id=segment_id,
                 channels=channels, now=now)
    seed = secrets.token_hex(16)
    holdout = assign_holdout([c.id for c, _, _, _ in found.targets], holdout_share, seed)
    result: dict[str, Any] = {
        "eligible": len(found.targets), "contacted": len(found.targets) - len(holdout),
        "holdout": len(holdout), "skipped": dict(found.skipped), "dry_run": dry_run,
        "campaign_id": None}
    if dry_run:
        return result
    if not found.targets:
        raise OutcomeError("min_risk", "no at-risk detractor with an address matches", 409)
    org = session.get(Organization, org_id)
    campaign = WinbackCampaign(
        org_id=org_id, name=name.strip() or "win-back", min_risk=min_risk,
        segment_id=segment_id or None, holdout_share=holdout_share, window_days=window,
        offer_zh=offer_zh.strip(), offer_en=offer_en.strip(),
        channel_ids=[c.id for c in channels], contacted_count=result["contacted"],
        holdout_count=result["holdout"], skipped=dict(found.skipped), assignment_seed=seed,
        created_by=actor, created_at=now)
    session.add(campaign)
    session.flush()
    recipients = []
    for contact, risk, channel, address in found.targets:
        message_id = None
        if contact.id not in holdout:
            lang = normalize_language(contact.language) or (
                org.default_language if org else "zh-CN")
            offer = campaign.offer_zh if lang == "zh-CN" else campaign.offer_en
            notice = _message(lang, org_name=org.name if org else "",
                              offer=offer or campaign.offer_zh or campaign.offer_en)
            message_id = notify.enqueue(
                session, org_id=org_id, channel_id=channel.id, message=notice,
                recipients=[address], dedupe_key=f"winback:{campaign.id}:{contact.id}").id
        recipients.append({"campaign_id": campaign.id, "contact_id": contact.id,
                           "org_id": org_id, "churn_risk": risk, "message_id": message_id,
                           "group": (Group.holdout if contact.id in holdout
                                     else Group.contacted).value})
    for start in range(0, len(recipients), 2000):
        session.execute(insert(WinbackRecipient.__table__), recipients[start:start + 2000])
    result["campaign_id"] = campaign.id
    return result


def _had(settings: OutcomeSettings, outcome: Outcome, org_id: str, start: datetime,
         end: datetime) -> Any:
    name = settings.repurchase_event if outcome == Outcome.repurchase else settings.churn_event
    del org_id  # recipients are filtered by org; see service.event_within on the index
    found = exists(select(Event.id).where(
        Event.contact_id == WinbackRecipient.contact_id,
        Event.name == (name or settings.repurchase_event), Event.occurred_at > start,
        Event.occurred_at <= end))
    return not_(found) if outcome == Outcome.churn and not settings.churn_event else found


def effect(session: Session, org_id: str, campaign: WinbackCampaign,
           now: datetime | None = None) -> dict[str, Any]:
    """Outcome rates of both groups after the send and the difference (contacted minus
    holdout), counted in SQL. Before the window is over the numbers are interim."""
    now = now or utcnow()
    settings = get_settings(session, org_id)
    end = campaign.created_at + timedelta(days=campaign.window_days)
    out: dict[str, Any] = {"window_days": campaign.window_days, "window_end": end.isoformat(),
                           "complete": now >= end, "outcomes": {}}
    for outcome in Outcome:
        had = _had(settings, outcome, org_id, campaign.created_at, min(end, now))
        rows = session.execute(
            select(WinbackRecipient.group, func.count(), func.sum(case((had, 1), else_=0)))
            .where(WinbackRecipient.org_id == org_id,
                   WinbackRecipient.campaign_id == campaign.id)
            .group_by(WinbackRecipient.group)).all()
        counts = {group: (int(n), int(k or 0)) for group, n, k in rows}
        groups = {g.value: stats.rate(counts.get(g.value, (0, 0))[1],
                                      counts.get(g.value, (0, 0))[0]) for g in Group}
        contacted, holdout = groups[Group.contacted.value], groups[Group.holdout.value]
        out["outcomes"][outcome.value] = {
            "groups": {k: v.as_dict() for k, v in groups.items()},
            "effect": stats.difference(contacted, holdout).as_dict(),
            "detectable": stats.minimum_detectable_difference(holdout.rate, contacted.n,
                                                              holdout.n)}
    return out


def list_campaigns(session: Session, org_id: str, limit: int = 50) -> list[WinbackCampaign]:
    return list(session.scalars(select(WinbackCampaign).where(
        WinbackCampaign.org_id == org_id).order_by(WinbackCampaign.created_at.desc())
        .limit(limit)))


def get_campaign(session: Session, org_id: str, campaign_id: str) -> WinbackCampaign | None:
    return session.scalar(select(WinbackCampaign).where(
        WinbackCampaign.org_id == org_id, WinbackCampaign.id == campaign_id))
