"""The demo's distribution: a newsletter list that brings the contacts with an email address
to 10,000 (the full-size demo only), the segment "contacts with email", an email channel
to a local SMTP relay, a past campaign to the VIP members with a realistic funnel, and a
quarterly relationship schedule. Flushes; the caller commits.

To watch the demo's mail, run a local relay: `python -m aiosmtpd -n -l 127.0.0.1:1025`.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from npsloop.contacts.models import Contact, Segment
from npsloop.contacts.segments import contacts_query, create_segment
from npsloop.core.db import new_id, utcnow
from npsloop.distribution import campaigns, schedules
from npsloop.distribution.models import Campaign, CampaignStatus, Invitation
from npsloop.notify import service as notify
from npsloop.surveys.models import Survey

DEMO_ACTOR = "npsloop demo"
EMAIL_SEGMENT = "有邮箱的联系人 · Contacts with email"
VIP_SEGMENT = "VIP 会员 · VIP members"
MAILING_LIST_TARGET = 10_000
FULL_DEMO_CONTACTS = 7_000  # below this (test-sized seeds) no newsletter list is added
BATCH = 2_000


def _add_newsletter_readers(session: Session, org_id: str) -> int:
    """Newsletter readers who never answered a survey yet, so that the email segment holds
    10,000 contacts: a campaign of the size a real programme sends."""
    total = session.scalar(select(func.count()).select_from(Contact)
                           .where(Contact.org_id == org_id)) or 0
    with_email = session.scalar(select(func.count()).select_from(Contact).where(
        Contact.org_id == org_id, Contact.email.is_not(None))) or 0
    missing = MAILING_LIST_TARGET - with_email
    if total < FULL_DEMO_CONTACTS or missing <= 0:
        return 0
    rng = random.Random(20261204)
    now = utcnow()
    rows = [{"id": new_id(), "org_id": org_id, "external_id": f"NL-{n:05d}",
             "email": f"reader{n:05d}@example.com", "phone": None,
             "language": "en" if rng.random() < 0.12 else "zh-CN",
             "lifecycle_stage": "acquisition", "attributes": {}, "tags": ["newsletter"],
             "created_at": now - timedelta(days=rng.randint(1, 300)), "updated_at": now}
            for n in range(1, missing + 1)]
    for start in range(0, len(rows), BATCH):
        session.execute(insert(Contact), rows[start:start + BATCH])
    return len(rows)


def _segment(session: Session, org_id: str, name: str, rules: dict[str, Any],
             description: str) -> str:
    found = session.scalar(select(Segment.id).where(Segment.org_id == org_id,
                                                    Segment.name == name))
    if found:
        return found
    return create_segment(session, org_id=org_id, name=name, rules=rules,
                          description=description, created_by=DEMO_ACTOR).id


def _past_campaign(session: Session, org_id: str, *, survey_id: str, segment_id: str,
                   channel_id: str) -> int:
    """A relationship survey sent to the VIP members 100 days ago, with how far each
    invitation got (delivered 96%, opened 52%, started 38%, completed 31%)."""
    sent = (utcnow() - timedelta(days=100)).replace(hour=2, minute=0, second=0, microsecond=0)
    segment = session.get(Segment, segment_id)
    if segment is None:
        return 0
    members = list(session.scalars(contacts_query(session, org_id, segment.rules)
                                   .where(Contact.email.is_not(None)).order_by(Contact.id)))
    if not members:
        return 0
    campaign = Campaign(
        org_id=org_id, name="VIP 关系型调研 · VIP relationship survey", survey_id=survey_id,
        segment_id=segment_id, channel="email", notify_channel_id=channel_id,
        messages=campaigns.default_messages(), expires_days=30,
        status=CampaignStatus.sent.value, send_at=sent, invited_count=len(members),
        deferred_count=0, skipped={}, created_by=DEMO_ACTOR, created_at=sent,
        started_at=sent, finished_at=sent + timedelta(minutes=3))
    session.add(campaign)
    session.flush()
    rng = random.Random(7)
    rows = []
    for contact_id in members:
        stamps: dict[str, datetime | None] = {
            "sent_at": sent + timedelta(seconds=rng.randint(1, 180))}
        status = "sent"
        for stage, share in (("delivered", 0.96), ("opened", 0.54), ("started", 0.73),
                             ("completed", 0.82)):
            if rng.random() >= share:
                if stage == "delivered":
                    status = "failed"
                break
            previous = max(v for v in stamps.values() if v is not None)
            stamps[f"{stage}_at"] = previous + timedelta(minutes=rng.randint(1, 600))
            status = stage
        rows.append({"id": new_id(), "org_id": org_id, "survey_id": survey_id,
                     "contact_id": contact_id, "channel": "email", "source": "campaign",
                     "campaign_id": campaign.id, "status": status, "error": "",
                     "send_at": sent, "expires_at": sent + timedelta(days=30),
                     "created_at": sent, "failed_at": stamps["sent_at"] if status == "failed"
                     else None, **{k: stamps.get(k) for k in (
                         "sent_at", "delivered_at", "opened_at", "started_at",
                         "completed_at")}})
    session.execute(insert(Invitation), rows)
    return len(rows)


def seed_demo_distribution(session: Session, org_id: str) -> dict[str, Any]:
    readers = _add_newsletter_readers(session, org_id)
    email_segment = _segment(
        session, org_id, EMAIL_SEGMENT,
        {"match": "all", "conditions": [{"field": "email", "operator": "is_set"}]},
        "所有留有邮箱的联系人 · Everyone with an email address")
    vip_segment = _segment(
        session, org_id, VIP_SEGMENT,
        {"match": "all", "conditions": [{"field": "tags", "operator": "has_any",
                                         "value": ["vip"]}]},
        "VIP 标签的会员 · Members tagged vip")
    channel = notify.create_channel(
        session, org_id=org_id, kind="email", name="演示邮件 · Demo mail (local relay)",
        config={"host": "127.0.0.1", "port": 1025, "security": "none",
                "from_address": "nps@freshgo.example.com", "from_name": "FreshGo 鲜达"},
        language=None, box=notify.secret_box())
    survey = session.scalar(select(Survey).where(Survey.org_id == org_id,
                                                 Survey.nps_type == "relationship",
                                                 Survey.status == "live"))
    result: dict[str, Any] = {"newsletter_readers": readers, "email_segment": email_segment}
    if survey is None:
        return result
    result["past_invitations"] = _past_campaign(session, org_id, survey_id=survey.id,
                                                segment_id=vip_segment, channel_id=channel.id)
    now = utcnow()
    quarter_month = ((now.month - 1) // 3 + 1) * 3 + 1
    year = now.year + (1 if quarter_month > 12 else 0)
    starts = datetime(year, (quarter_month - 1) % 12 + 1, 1, 2, 0, tzinfo=UTC)  # 10:00 CST
    schedules.create_schedule(
        session, org_id=org_id, name="季度关系型 NPS · Quarterly relationship NPS",
        survey_id=survey.id, segment_id=email_segment, channel="email",
        notify_channel_id=channel.id, every_unit="month", every_count=3, starts_at=starts,
        timezone="Asia/Shanghai", actor=DEMO_ACTOR, now=now)
    session.flush()
    return result
