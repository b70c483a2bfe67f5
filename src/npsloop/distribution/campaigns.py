"""Campaigns: a survey sent to a segment's contacts by email or SMS.

Sending a campaign creates one invitation per eligible contact, in batches of 1,000 (one
bulk INSERT and one commit per batch, resumable from the campaign's cursor): every contact
passes the fatigue rules (`targeting.fatigue_bulk.check_many`, `fatigue.check`'s answers for
a batch; skipped contacts are counted per rule and logged), and quiet hours hold the send
(the invitations' send_at is the end of the quiet hours) instead of dropping it. The
distribution worker then hands due invitations to notify (dispatch.py).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from npsloop.contacts.models import Contact, Segment
from npsloop.contacts.segments import get_segment, segment_contact_ids
from npsloop.core.db import new_id, utcnow
from npsloop.core.i18n import LANGUAGES, translate
from npsloop.distribution.models import Campaign, CampaignStatus, Invitation, InvitationStatus
from npsloop.distribution.service import DistributionError
from npsloop.notify import service as notify
from npsloop.notify.models import NotifyChannel
from npsloop.notify.registry import notifier_class
from npsloop.surveys.models import Survey, SurveyStatus
from npsloop.targeting import fatigue
from npsloop.targeting.fatigue_bulk import check_many

SEND_CHANNELS = ("email", "sms")
PLACEHOLDERS = ("name", "org", "survey")
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
BATCH = 1000
SUBJECT_MAX = 200
BODY_MAX = 2000


def default_messages() -> dict[str, dict[str, str]]:
    return {lang: {"subject": translate("distribution.msg.subject", lang),
                   "body": translate("distribution.msg.body", lang)} for lang in LANGUAGES}


def channel_kind(channel: NotifyChannel) -> str | None:
    """"email" or "sms" for a notify channel that reaches a person; None for team chats."""
    if channel.kind == "email":
        return "email"
    cls = notifier_class(channel.kind)
    if cls is not None and getattr(cls, "needs_recipients", False):
        return "sms"
    return None


def reachable_channels(session: Session, org_id: str) -> list[NotifyChannel]:
    rows = session.scalars(select(NotifyChannel).where(
        NotifyChannel.org_id == org_id, NotifyChannel.enabled.is_(True))
        .order_by(NotifyChannel.name))
    return [c for c in rows if channel_kind(c) is not None]


def _check_text(field: str, text: str, limit: int) -> str:
    text = text.strip()
    if not text:
        raise DistributionError(field, "must not be empty")
    if len(text) > limit:
        raise DistributionError(field, f"at most {limit} characters")
    for name in PLACEHOLDER.findall(text):
        if name not in PLACEHOLDERS:
            raise DistributionError(field, f"unknown placeholder {{{name}}}; use "
                                    + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS))
    return text


def check_messages(messages: dict[str, Any] | None) -> dict[str, dict[str, str]]:
    """Fills missing languages and parts with the defaults; rejects unknown placeholders."""
    merged = default_messages()
    for lang, parts in (messages or {}).items():
        if lang not in LANGUAGES:
            raise DistributionError(f"messages.{lang}", f"language must be one of "
                                    f"{', '.join(LANGUAGES)}")
        if not isinstance(parts, dict):
            raise DistributionError(f"messages.{lang}", "must be an object")
        for part, limit in (("subject", SUBJECT_MAX), ("body", BODY_MAX)):
            if parts.get(part):
                merged[lang][part] = _check_text(f"messages.{lang}.{part}", str(parts[part]),
                                                 limit)
    return merged


def check_target(session: Session, org_id: str, *, survey_id: str, segment_id: str,
                 channel: str, notify_channel_id: str) -> tuple[Survey, Segment, NotifyChannel]:
    """The survey, segment and notify channel of a campaign or schedule, or a 422."""
    survey = session.get(Survey, survey_id)
    if survey is None or survey.org_id != org_id:
        raise DistributionError("survey_id", "no such survey in this organisation")
    if survey.status != SurveyStatus.live.value:
        raise DistributionError("survey_id", f"the survey is {survey.status}; only a live "
                                "survey can be sent")
    segment = get_segment(session, org_id=org_id, segment_id=segment_id)
    if segment is None:
        raise DistributionError("segment_id", "no such segment in this organisation")
    if channel not in SEND_CHANNELS:
        raise DistributionError("channel", "must be email or sms")
    target = notify.get_channel(session, org_id, notify_channel_id)
    if target is None:
        raise DistributionError("notify_channel_id", "no such notification channel")
    if channel_kind(target) != channel:
        raise DistributionError("notify_channel_id",
                                f"channel '{target.name}' ({target.kind}) cannot send {channel}")
    if not target.enabled:
        raise DistributionError("notify_channel_id", f"channel '{target.name}' is disabled")
    return survey, segment, target


def create_campaign(
    session: Session, *, org_id: str, name: str, survey_id: str, segment_id: str,
    channel: str, notify_channel_id: str, messages: dict[str, Any] | None = None,
    send_at: datetime | None = None, expires_days: int = 30, actor: str = "",
    schedule_id: str | None = None,
) -> Campaign:
    survey, _, _ = check_target(session, org_id, survey_id=survey_id, segment_id=segment_id,
                                channel=channel, notify_channel_id=notify_channel_id)
    if not 1 <= expires_days <= 365:
        raise DistributionError("expires_days", "must be between 1 and 365")
    name = name.strip() or survey.name
    if len(name) > 200:
        raise DistributionError("name", "at most 200 characters")
    campaign = Campaign(
        org_id=org_id, name=name, survey_id=survey_id, segment_id=segment_id, channel=channel,
        notify_channel_id=notify_channel_id, messages=check_messages(messages),
        expires_days=expires_days, send_at=send_at, schedule_id=schedule_id,
        status=(CampaignStatus.scheduled if send_at and send_at > utcnow()
                else CampaignStatus.draft).value,
        invited_count=0, deferred_count=0, skipped={}, created_by=actor, created_at=utcnow())
    session.add(campaign)
    session.flush()
    return campaign


def get_campaign(session: Session, org_id: str, campaign_id: str) -> Campaign | None:
    campaign = session.get(Campaign, campaign_id)
    return campaign if campaign is not None and campaign.org_id == org_id else None


def list_campaigns(session: Session, org_id: str, limit: int = 100) -> list[Campaign]:
    return list(session.scalars(select(Campaign).where(Campaign.org_id == org_id)
                                .order_by(Campaign.created_at.desc()).limit(limit)))


def _claim(session: Session, campaign: Campaign, now: datetime) -> bool:
    """draft/scheduled -> sending with a conditional UPDATE: of two concurrent sends (two
    clicks, two workers) exactly one proceeds."""
    won = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id,
               Campaign.status.in_((CampaignStatus.draft.value, CampaignStatus.scheduled.value)))
        .values(status=CampaignStatus.sending.value, started_at=now)
        .execution_options(synchronize_session=False)).rowcount == 1
    session.refresh(campaign)
    return won


def start_send(session: Session, campaign: Campaign, *, now: datetime | None = None,
               schedule_run_id: str | None = None) -> None:
    """Claims the campaign for sending (flushes). Its invitations are then created batch
    by batch by `plan_step`. Raises DistributionError when it was already sent."""
    now = now or utcnow()
    check_target(session, campaign.org_id, survey_id=campaign.survey_id,
                 segment_id=campaign.segment_id, channel=campaign.channel,
                 notify_channel_id=campaign.notify_channel_id)
    if not _claim(session, campaign, now):
        raise DistributionError("status", f"the campaign is already {campaign.status}")
    # Quiet hours hold the whole send until they end (invitations keep this send_at).
    campaign.send_at = fatigue.next_allowed_send(session, org_id=campaign.org_id, at=now)
    campaign.schedule_run_id = schedule_run_id
    session.flush()


def plan_step(session: Session, campaign: Campaign, *, now: datetime | None = None,
              language: str = "en", batch: int | None = None) -> bool:
    """Invites the next batch of the segment (contacts after the campaign's cursor, by id);
    returns True when the whole segment is planned. Flushes; commit after each step. The
    cursor moves with a conditional UPDATE, so two workers never plan the same batch (the
    loser's transaction is rolled back), and a crash resumes after the last committed
    batch without counting a skip twice."""
    now = now or utcnow()
    batch = batch or BATCH
    if campaign.status != CampaignStatus.sending.value or campaign.planned_at is not None:
        return True
    query = segment_contact_ids(session, campaign.org_id, campaign.segment_id)
    if campaign.cursor:
        query = query.where(Contact.id > campaign.cursor)
    ids = list(session.scalars(query.order_by(Contact.id).limit(batch)))
    skipped: Counter[str] = Counter(campaign.skipped or {})
    rows = _plan_batch(session, campaign, ids, now=now, skipped=skipped, language=language)
    if rows:
        session.execute(insert(Invitation), rows)
    done = len(ids) < batch
    moved = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id,
               Campaign.cursor.is_(None) if campaign.cursor is None
               else Campaign.cursor == campaign.cursor)
        .values(cursor=ids[-1] if ids else campaign.cursor,
                invited_count=Campaign.invited_count + len(rows),
                deferred_count=Campaign.deferred_count + (
                    len(rows) if campaign.send_at and campaign.send_at > now else 0),
                skipped=dict(skipped), planned_at=now if done else None)
        .execution_options(synchronize_session=False)).rowcount == 1
    if not moved:
        raise CampaignBusy(campaign.id)
    session.refresh(campaign)
    if done and campaign.invited_count == 0:
        campaign.status = CampaignStatus.sent.value
        campaign.finished_at = now
        session.flush()
    return done


class CampaignBusy(RuntimeError):
    """Another worker planned this batch first: roll back and move on."""


def plan_for(session: Session, campaign: Campaign, *, budget_seconds: float,
             language: str = "en") -> bool:
    """Plans batches, committing each, until done or `budget_seconds` pass (the worker
    finishes a large segment); True when done. Used by the API and the pages."""
    started = time.monotonic()
    while True:
        try:
            done = plan_step(session, campaign, language=language)
        except CampaignBusy:  # a worker took over meanwhile
            session.rollback()
            session.refresh(campaign)
            return campaign.planned_at is not None
        session.commit()
        if done or time.monotonic() - started > budget_seconds:
            return done


def send_campaign(session: Session, campaign: Campaign, *, now: datetime | None = None,
                  language: str = "en") -> dict[str, Any]:
    """Starts the campaign and plans the whole segment in the caller's transaction
    (flushes only): for tests and small segments; the API commits batch by batch."""
    now = now or utcnow()
    start_send(session, campaign, now=now)
    while not plan_step(session, campaign, now=now, language=language):
        pass
    return result_of(campaign)


def _plan_batch(session: Session, campaign: Campaign, ids: list[str], *, now: datetime,
                skipped: Counter[str], language: str) -> list[dict[str, Any]]:
    """The invitation rows of one batch. Every contact passes the fatigue rules: the
    targeting domain's `check_many` gives exactly `fatigue.check`'s answer per contact (its
    tests compare the two) with one query per rule for the whole batch."""
    languages = dict(session.execute(select(Contact.id, Contact.language).where(
        Contact.org_id == campaign.org_id, Contact.id.in_(ids))).all())
    verdicts = check_many(session, org_id=campaign.org_id, contact_ids=ids,
                          survey_id=campaign.survey_id, channel=campaign.channel, now=now,
                          language=language, include_quiet_hours=False)
    expires_at = now + timedelta(days=campaign.expires_days)
    rows = []
    for contact_id in ids:
        if contact_id not in languages:  # deleted since the segment was read
            continue
        refusals = verdicts.get(contact_id, [])
        if refusals:
            skipped[refusals[0].rule] += 1
            fatigue.log_decision(session, org_id=campaign.org_id, contact_id=contact_id,
                                 survey_id=campaign.survey_id, channel=campaign.channel,
                                 source="campaign", eligible=False, refusals=refusals, at=now)
            continue
        rows.append({
            "id": new_id(), "org_id": campaign.org_id, "survey_id": campaign.survey_id,
            "contact_id": contact_id, "channel": campaign.channel, "source": "campaign",
            "campaign_id": campaign.id, "schedule_run_id": campaign.schedule_run_id,
            "status": InvitationStatus.scheduled.value, "language": languages[contact_id],
            "error": "", "send_at": campaign.send_at or now, "expires_at": expires_at,
            "created_at": now})
    return rows


def result_of(campaign: Campaign) -> dict[str, Any]:
    return {"campaign_id": campaign.id, "status": campaign.status,
            "planned": campaign.planned_at is not None,
            "invited": campaign.invited_count, "deferred": campaign.deferred_count,
            "skipped": dict(campaign.skipped or {}),
            "skipped_total": sum((campaign.skipped or {}).values())}
