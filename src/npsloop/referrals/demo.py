"""Demo referral activity for the FreshGo workspace.

Promoters (9-10, with a contact) of the last 120 days were invited on the thank-you page;
about a third shared their link, their friends visited, and some became customers. The new
customers are demo contacts who joined through the "referral" acquisition channel after
their referrer answered, so "later NPS of referred customers" reads their real answers. One
promoter's link got a burst of visits from one address (flagged, left out of the funnel),
and a past "ask promoters" e-mail campaign is on record. Lifecycle moves are observed from
the stage snapshots of responses. Randomness is seeded: the same data gives the same rows.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from npsloop.contacts.models import Contact
from npsloop.core.config import get_settings
from npsloop.core.db import new_id, utcnow
from npsloop.referrals import codes, lifecycle, service
from npsloop.referrals.models import (
    ReferralCampaign,
    ReferralCode,
    ReferralConversion,
    ReferralEvent,
    ReferralSettings,
    ReferralVisit,
)
from npsloop.responses.models import Response
from npsloop.surveys.models import Survey

SEED = "npsloop-demo-referrals-v1"
DAYS = 120
MAX_PROMOTERS = 700
USER_AGENTS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) MicroMessenger/8.0.47",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/124.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) Version/17.4 Safari/605.1.15",
)

SETTINGS = {
    "enabled": True,
    "landing_url": "https://www.freshgo.example.cn/invite?utm_source=nps",
    "code_param": "ref",
    "review_url": "https://www.freshgo.example.cn/reviews",
    "share_text_zh": "我在鲜达优选买菜一年多了,新鲜又准时,推荐你也试试!用我的专属链接注册:",
    "share_text_en": "I've been buying my groceries at FreshGo for a year: fresh and on time. "
                     "Try it with my personal link:",
    "incentive_zh": "好友首单立减 20 元,您也将获得一张 20 元优惠券。",
    "incentive_en": "Your friend gets ¥20 off their first order, and you get a ¥20 coupon too.",
    "burst_max_visits": 5,
    "burst_window_minutes": 10,
}


def _promoters(session: Session, org_id: str, since: datetime) -> list[Any]:
    """Each promoter contact's first 9-10 answer in the window, with its survey's
    touchpoint; in time order."""
    rows = session.execute(
        select(Response.id, Response.contact_id, Response.survey_id, Response.score,
               Response.submitted_at, Response.contact_attributes, Survey.touchpoint,
               Contact.external_id)
        .join(Survey, Survey.id == Response.survey_id)
        .join(Contact, Contact.id == Response.contact_id)
        .where(Response.org_id == org_id, Response.score >= 9, Response.status == "complete",
               Response.submitted_at >= since)
        .order_by(Response.submitted_at, Response.id)).all()
    seen: set[str] = set()
    first = []
    for row in rows:
        if row.contact_id not in seen:
            seen.add(row.contact_id)
            first.append(row)
    return first


def _referred_customers(session: Session, org_id: str, since: date) -> list[tuple[str, date]]:
    """Demo contacts who joined through a referral after `since`: (external id, sign-up)."""
    found = []
    for external_id, attributes in session.execute(
            select(Contact.external_id, Contact.attributes).where(Contact.org_id == org_id)):
        attributes = attributes or {}
        if attributes.get("acquisition_channel") != "referral":
            continue
        try:
            signup = date.fromisoformat(str(attributes.get("signup_date", "")))
        except ValueError:
            continue
        if signup >= since:
            found.append((external_id, signup))
    return sorted(found, key=lambda item: (item[1], item[0]))


def seed_demo_referrals(session: Session, org_id: str) -> dict[str, Any]:
    if session.scalar(select(ReferralCode.id).where(ReferralCode.org_id == org_id)):
        return {"referral_codes": 0}
    rng = random.Random(SEED)
    secret = get_settings().secret_key
    if session.get(ReferralSettings, org_id) is None:
        service.save_settings(session, org_id, dict(SETTINGS))
    now = utcnow()
    since = now - timedelta(days=DAYS)
    promoters = _promoters(session, org_id, since)
    if len(promoters) > MAX_PROMOTERS:
        promoters = sorted(rng.sample(promoters, MAX_PROMOTERS),
                           key=lambda r: (r.submitted_at, r.id))
    code_rows, events, visits = [], [], []
    sharers: list[tuple[dict[str, Any], datetime]] = []
    for row in promoters:
        code_id = new_id()
        code_rows.append({
            "id": code_id, "org_id": org_id, "code": codes.new_code(),
            "contact_id": row.contact_id, "response_id": row.id,
            "referrer_external_id": row.external_id, "survey_id": row.survey_id,
            "touchpoint": row.touchpoint or "",
            "lifecycle_stage": (row.contact_attributes or {}).get("lifecycle_stage"),
            "score": row.score, "created_at": row.submitted_at + timedelta(seconds=40)})
        asked_at = row.submitted_at + timedelta(seconds=45)
        events.append(_event(org_id, code_id, "asked", "thank_you", asked_at, row.id))
        if rng.random() < (0.42 if row.score == 10 else 0.26):
            shared_at = asked_at + timedelta(seconds=rng.randint(10, 300))
            method = rng.choices(("copy", "qr", "native"), weights=(0.6, 0.15, 0.25))[0]
            events.append(_event(org_id, code_id, "shared", method, shared_at))
            sharers.append((code_rows[-1], shared_at))
            for _ in range(rng.choice((0, 1, 1, 2, 2, 3, 4, 6))):
                at = shared_at + timedelta(hours=rng.uniform(0.2, 96))
                if at < now:
                    visits.append(_visit(org_id, code_id, secret, rng, at))
    if code_rows:
        session.execute(insert(ReferralCode.__table__), code_rows)
    conversions = _conversions(session, org_id, sharers, visits, rng, secret, now)
    burst = _burst(org_id, sharers, secret, now)
    campaign_asks = _campaign(session, org_id, code_rows, promoters, now)
    for table, rows in ((ReferralEvent.__table__, events + campaign_asks),
                        (ReferralVisit.__table__, visits + burst),
                        (ReferralConversion.__table__, conversions)):
        for start in range(0, len(rows), 2000):
            session.execute(insert(table), rows[start:start + 2000])
    moves = lifecycle.observe_moves_from_responses(session, org_id)
    session.flush()
    return {"referral_codes": len(code_rows), "referral_visits": len(visits) + len(burst),
            "referral_conversions": len(conversions), "lifecycle_moves": moves}


def _event(org_id: str, code_id: str, kind: str, channel: str, at: datetime,
           response_id: str | None = None, campaign_id: str | None = None) -> dict[str, Any]:
    return {"id": new_id(), "org_id": org_id, "code_id": code_id, "kind": kind,
            "channel": channel, "campaign_id": campaign_id, "message_id": None,
            "response_id": response_id, "occurred_at": at}


def _visit(org_id: str, code_id: str, secret: str, rng: random.Random, at: datetime,
           ip: str | None = None, flagged: bool = False) -> dict[str, Any]:
    ip = ip or f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    return {"id": new_id(), "org_id": org_id, "code_id": code_id,
            "ip_hash": service.hash_ip(secret, org_id, ip),
            "user_agent": rng.choice(USER_AGENTS), "flagged": flagged,
            "flag_reason": "burst" if flagged else "", "visited_at": at}


def _conversions(session: Session, org_id: str, sharers: list[tuple[dict[str, Any], datetime]],
                 visits: list[dict[str, Any]], rng: random.Random, secret: str,
                 now: datetime) -> list[dict[str, Any]]:
    """Referred demo customers, each credited to a promoter who shared before they joined
    (with a visit of that promoter's link just before the sign-up)."""
    if not sharers:
        return []
    first_share = min(at for _, at in sharers).date()
    rows = []
    for external_id, signup in _referred_customers(session, org_id, first_share):
        joined = datetime.combine(signup, time(10, 30), tzinfo=UTC) + timedelta(
            minutes=rng.randint(0, 600))
        if joined >= now:
            continue
        candidates = [(code, at) for code, at in sharers
                      if at < joined - timedelta(hours=2) and code["referrer_external_id"]
                      != external_id]
        if not candidates:
            continue
        # Recent sharers are likelier to be the one whose link was used.
        code, _ = candidates[-1 - min(len(candidates) - 1, int(rng.expovariate(0.15)))]
        visits.append(_visit(org_id, code["id"], secret, rng,
                             joined - timedelta(minutes=rng.randint(5, 90))))
        value = round(rng.uniform(60, 260), 1) if rng.random() < 0.8 else None
        rows.append({"id": new_id(), "org_id": org_id, "code_id": code["id"],
                     "customer_external_id": external_id, "value": value,
                     "converted_at": joined, "recorded_by": "npsloop demo"})
    return rows


def _burst(org_id: str, sharers: list[tuple[dict[str, Any], datetime]], secret: str,
           now: datetime) -> list[dict[str, Any]]:
    """Twelve opens of one link from one address within four minutes: flagged."""
    if not sharers:
        return []
    code, shared_at = sharers[len(sharers) // 2]
    start = min(shared_at + timedelta(days=1), now - timedelta(hours=1))
    rng = random.Random(f"{SEED}:burst")
    return [_visit(org_id, code["id"], secret, rng, start + timedelta(seconds=20 * i),
                   ip="203.0.113.77", flagged=True) for i in range(12)]


def _campaign(session: Session, org_id: str, code_rows: list[dict[str, Any]],
              promoters: list[Any], now: datetime) -> list[dict[str, Any]]:
    """A past e-mail campaign that asked promoters with an address (recorded asks)."""
    sent_at = now - timedelta(days=24)
    window_start = sent_at - timedelta(days=30)
    with_email = set(session.scalars(select(Contact.id).where(
        Contact.org_id == org_id, Contact.email.is_not(None))))
    chosen = [code for code, row in zip(code_rows, promoters, strict=True)
              if window_start <= row.submitted_at < sent_at and row.contact_id in with_email]
    if not chosen:
        return []
    campaign = ReferralCampaign(
        org_id=org_id, name="春季推荐好友 · Spring refer-a-friend", purpose="refer",
        lookback_days=30, channel_ids=[], asked_count=len(chosen),
        skipped={"no_address": sum(1 for row in promoters
                                   if window_start <= row.submitted_at < sent_at
                                   and row.contact_id not in with_email)},
        created_by="analyst@npsloop.local", created_at=sent_at)
    session.add(campaign)
    session.flush()
    return [_event(org_id, code["id"], "asked", "email", sent_at + timedelta(seconds=i),
                   campaign_id=campaign.id) for i, code in enumerate(chosen)]
