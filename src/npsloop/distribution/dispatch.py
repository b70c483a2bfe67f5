"""The distribution worker: runs due schedules, starts scheduled campaigns, hands due
email/SMS invitations to notify, and copies notify's outcome back onto the invitations.

Claiming an invitation: PostgreSQL takes the due rows with FOR UPDATE SKIP LOCKED, so two
workers get disjoint batches; SQLite takes the write lock before reading (one writer at a
time). Either way the invitation leaves "scheduled" in the same transaction that enqueues
its message, and notify's dedupe key `invitation:<id>` makes a repeated enqueue a no-op:
no invitation is ever sent twice. Unsubscribes and quiet hours are checked again here,
at send time, because they may have changed since the campaign was planned.
"""

from __future__ import annotations

import logging
import socket
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session, sessionmaker

from npsloop.accounts.models import Organization
from npsloop.contacts.models import Contact
from npsloop.core.config import get_settings
from npsloop.core.db import is_postgres, utcnow
from npsloop.core.i18n import LANGUAGES, normalize_language, translate
from npsloop.distribution import campaigns, schedules, service
from npsloop.distribution.models import Campaign, CampaignStatus, Invitation, InvitationStatus
from npsloop.notify import service as notify
from npsloop.notify.base import Fact, Notice
from npsloop.notify.delivery import lock_for_write
from npsloop.surveys.models import Survey
from npsloop.targeting import fatigue

log = logging.getLogger(__name__)
SCHEDULED = InvitationStatus.scheduled.value
# Invitations per transaction (SQLite holds its write lock for one batch only); each batch
# goes to notify as one enqueue_many per channel: one dedupe query and one INSERT.
DISPATCH_BATCH = 500


def render(text: str, *, name: str, org: str, survey: str) -> str:
    for key, value in (("name", name), ("org", org), ("survey", survey)):
        text = text.replace("{" + key + "}", value)
    return text


def build_notice(invitation: Invitation, *, contact: Contact, survey: Survey, org_name: str,
                 messages: dict[str, Any], base_url: str) -> Notice:
    lang = normalize_language(invitation.language or contact.language)
    if lang not in LANGUAGES:
        lang = survey.default_language if survey.default_language in LANGUAGES else "zh-CN"
    parts = messages.get(lang) or campaigns.default_messages()[lang]
    fallback = translate("distribution.msg.customer", lang)
    values = {"name": contact.name or fallback, "org": org_name, "survey": survey.name}
    unsubscribe = service.unsubscribe_link(invitation, base_url=base_url)
    return Notice(
        title=render(parts["subject"], **values), text=render(parts["body"], **values),
        link_url=service.personal_link(invitation, base_url=base_url),
        link_label=translate("distribution.msg.link", lang), language=lang,
        facts=(Fact("unsubscribe", translate("distribution.msg.unsubscribe", lang),
                    unsubscribe),))


def _notify_channel(session: Session, org_id: str, kind: str,
                    cache: dict[tuple[str, str], str | None]) -> str | None:
    """A trigger's email/SMS invitation has no campaign: the first enabled channel of its
    kind carries it."""
    key = (org_id, kind)
    if key not in cache:
        found = [c for c in campaigns.reachable_channels(session, org_id)
                 if campaigns.channel_kind(c) == kind]
        cache[key] = found[0].id if found else None
    return cache[key]


def _due(session: Session, now: datetime, limit: int) -> list[Invitation]:
    query = (select(Invitation)
             .where(Invitation.status == SCHEDULED, Invitation.channel.in_(("email", "sms")),
                    Invitation.send_at <= now)
             .order_by(Invitation.send_at).limit(limit))
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    else:
        lock_for_write(session)
    return list(session.scalars(query))


def dispatch_due(session: Session, *, now: datetime | None = None, base_url: str | None = None,
                 limit: int = DISPATCH_BATCH) -> dict[str, int]:
    """Sends one batch of due invitations; flushes, the caller commits. Returns counts."""
    now = now or utcnow()
    base_url = base_url or get_settings().base_url
    batch = _due(session, now, limit)
    counts = {"claimed": len(batch), "sent": 0, "deferred": 0, "cancelled": 0, "failed": 0,
              "expired": 0}
    if not batch:
        return counts
    contacts = {c.id: c for c in session.scalars(select(Contact).where(
        Contact.id.in_({i.contact_id for i in batch if i.contact_id})))}
    campaign_rows = {c.id: c for c in session.scalars(select(Campaign).where(
        Campaign.id.in_({i.campaign_id for i in batch if i.campaign_id})))}
    surveys = {s.id: s for s in session.scalars(select(Survey).where(
        Survey.id.in_({i.survey_id for i in batch})))}
    orgs = {o.id: o for o in session.scalars(select(Organization).where(
        Organization.id.in_({i.org_id for i in batch})))}
    opted_out: set[tuple[str, str]] = set()
    for org_id in orgs:
        for channel in ("email", "sms"):
            ids = [i.contact_id for i in batch if i.org_id == org_id and i.channel == channel
                   and i.contact_id]
            opted_out |= {(cid, channel) for cid in
                          service.unsubscribed_among(session, org_id, ids, channel)}
    quiet_end = {org_id: fatigue.next_allowed_send(session, org_id=org_id, at=now)
                 for org_id in orgs}
    channel_cache: dict[tuple[str, str], str | None] = {}
    changes: list[dict[str, Any]] = []
    # (org, notify channel) -> the notices to queue, each with its row in `changes`
    outgoing: dict[tuple[str, str], list[tuple[notify.BatchItem, dict[str, Any]]]] = {}
    for invitation in batch:
        outcome, values, send = _dispatch_one(
            session, invitation, now=now, base_url=base_url,
            contact=contacts.get(invitation.contact_id or ""),
            campaign=campaign_rows.get(invitation.campaign_id or ""),
            survey=surveys[invitation.survey_id], org=orgs[invitation.org_id],
            opted_out=opted_out, quiet_end=quiet_end[invitation.org_id],
            channel_cache=channel_cache)
        counts[outcome] += 1
        change = {"id": invitation.id, **values}
        changes.append(change)
        if send is not None:
            channel_id, item = send
            outgoing.setdefault((invitation.org_id, channel_id), []).append((item, change))
    for (org_id, channel_id), pending in outgoing.items():
        message_ids = notify.enqueue_many(session, org_id=org_id, channel_id=channel_id,
                                          items=[item for item, _ in pending])
        for (_, change), message_id in zip(pending, message_ids, strict=True):
            change["message_id"] = message_id
    # One executemany per shape instead of an UPDATE flushed with every enqueue.
    session.execute(update(Invitation), changes)
    session.flush()
    return counts


def _dispatch_one(session: Session, invitation: Invitation, *, now: datetime, base_url: str,
                  contact: Contact | None, campaign: Campaign | None, survey: Survey,
                  org: Organization, opted_out: set[tuple[str, str]], quiet_end: datetime,
                  channel_cache: dict[tuple[str, str], str | None]
                  ) -> tuple[str, dict[str, Any], tuple[str, notify.BatchItem] | None]:
    """(outcome, the invitation's new column values, (notify channel, message) to queue);
    the caller writes the values and queues the messages in bulk."""
    if invitation.expires_at is not None and invitation.expires_at <= now:
        return "expired", {"status": InvitationStatus.expired.value}, None
    if contact is None or (contact.id, invitation.channel) in opted_out:
        return "cancelled", {"status": InvitationStatus.cancelled.value,
                             "error": "unsubscribed" if contact is not None else "no contact"
                             }, None
    if quiet_end > now:  # quiet hours: hold the send, never drop it
        return "deferred", {"send_at": quiet_end}, None
    address = contact.email if invitation.channel == "email" else contact.phone
    channel_id = (campaign.notify_channel_id if campaign is not None
                  else _notify_channel(session, org.id, invitation.channel, channel_cache))
    if not address or channel_id is None:
        return "failed", {"status": InvitationStatus.failed.value, "failed_at": now,
                          "error": "no address" if not address else "no notification channel"
                          }, None
    notice = build_notice(invitation, contact=contact, survey=survey, org_name=org.name,
                          messages=campaign.messages if campaign is not None else {},
                          base_url=base_url)
    item: notify.BatchItem = (notice, [address], f"invitation:{invitation.id}", None)
    return "sent", {"status": InvitationStatus.sent.value, "sent_at": now}, (channel_id, item)


def finish_campaigns(session: Session, now: datetime) -> int:
    """A sending campaign whose segment is fully planned and with nothing left to hand over
    is sent. Without the planned check, a worker could close a campaign another worker had
    just started (committed, not yet planned: no invitations at all) and it was never sent."""
    pending = exists().where(Invitation.campaign_id == Campaign.id,
                             Invitation.status == SCHEDULED)
    return session.execute(
        update(Campaign).where(Campaign.status == CampaignStatus.sending.value,
                               Campaign.planned_at.is_not(None), ~pending)
        .values(status=CampaignStatus.sent.value, finished_at=now)
        .execution_options(synchronize_session=False)).rowcount or 0


def start_scheduled_campaigns(session: Session, now: datetime) -> list[str]:
    """Campaigns created with a future send time start when it comes."""
    started = []
    due = list(session.scalars(select(Campaign).where(
        Campaign.status == CampaignStatus.scheduled.value, Campaign.send_at <= now)
        .order_by(Campaign.send_at).limit(5)))
    for campaign in due:
        try:
            campaigns.start_send(session, campaign, now=now)
            started.append(campaign.id)
        except service.DistributionError as exc:  # taken by another worker, or now invalid
            log.info("campaign %s not started: %s", campaign.id, exc.message)
    return started


def continue_planning(factory: sessionmaker[Session], *, now: datetime,
                      max_steps: int = 1000) -> int:
    """Invites the next batches of campaigns being sent, one committed batch at a time
    (SQLite's write lock is held for one batch only); returns how many batches ran."""
    steps = 0
    while steps < max_steps:
        with factory() as session:
            if not is_postgres(session):
                lock_for_write(session)
            query = (select(Campaign).where(Campaign.status == CampaignStatus.sending.value,
                                            Campaign.planned_at.is_(None))
                     .order_by(Campaign.started_at).limit(1))
            if is_postgres(session):
                query = query.with_for_update(skip_locked=True)
            campaign = session.scalar(query)
            if campaign is None:
                session.commit()
                return steps
            try:
                campaigns.plan_step(session, campaign, now=now)
                session.commit()
            except campaigns.CampaignBusy:
                session.rollback()
            steps += 1
    return steps


def tick(factory: sessionmaker[Session], *, now: datetime | None = None, worker_id: str = "",
         base_url: str | None = None, max_batches: int = 100) -> dict[str, int]:
    """One pass of every distribution job, each step in its own transaction."""
    now = now or utcnow()
    worker_id = worker_id or f"{socket.gethostname()}-distribution"
    totals = {"schedule_runs": 0, "campaigns_started": 0, "plan_steps": 0, "sent": 0,
              "deferred": 0, "synced": 0}
    with factory() as session:
        if not is_postgres(session):
            lock_for_write(session)
        totals["schedule_runs"] = len(schedules.run_due(session, now=now, worker_id=worker_id))
        session.commit()
    with factory() as session:
        if not is_postgres(session):
            lock_for_write(session)
        totals["campaigns_started"] = len(start_scheduled_campaigns(session, now))
        session.commit()
    totals["plan_steps"] = continue_planning(factory, now=now)
    for _ in range(max_batches):
        with factory() as session:
            counts = dispatch_due(session, now=now, base_url=base_url)
            session.commit()
        totals["sent"] += counts["sent"]
        totals["deferred"] += counts["deferred"]
        if counts["claimed"] < DISPATCH_BATCH:
            break
    with factory() as session:
        if not is_postgres(session):
            lock_for_write(session)
        totals["synced"] = service.sync_delivery(session)
        finish_campaigns(session, now)
        session.commit()
    return totals
