"""Invitations and their personal links, unsubscribes, and the funnel.

Nothing here commits: callers (the API, the worker, the public pages) own the transaction.
A personal link carries a signed token: the invitation id, an expiry, and an HMAC over
(invitation, survey, contact, expiry) with the server's secret key, so a token cannot be
forged, moved to another survey or contact, or extended.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.orm import Session

from npsloop.core.config import get_settings
from npsloop.core.db import utcnow
from npsloop.distribution.models import Invitation, InvitationStatus, Unsubscribe
from npsloop.responses.models import Response

CHANNELS = ("email", "sms", "widget", "link", "api")
SOURCES = ("campaign", "trigger", "api", "widget")
EVENTS = ("sent", "delivered", "opened", "started", "completed", "dismissed", "failed")
# How far along an invitation is; a later event never moves it back.
RANK = {"scheduled": 0, "failed": 1, "cancelled": 1, "expired": 1, "sent": 2, "delivered": 3,
        "opened": 4, "dismissed": 5, "started": 5, "completed": 6}
# Open channels without invitations, counted from responses alone in the funnel.
OPEN_CHANNELS = ("link", "qr", "wechat", "app", "kiosk")


class DistributionError(ValueError):
    """Bad input, reported as a 422 naming the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# -- invitations -----------------------------------------------------------------------------


def create_invitation(
    session: Session, *, org_id: str, survey_id: str, contact_id: str | None, channel: str,
    source: str, send_at: datetime | None = None, campaign_id: str | None = None,
    trigger_id: str | None = None, expires_at: datetime | None = None,
) -> Invitation:
    """One invitation (no fatigue check: callers check). Email/SMS invitations due now are
    sent by the distribution worker, which re-checks unsubscribes and quiet hours."""
    if channel not in CHANNELS:
        raise DistributionError("channel", f"must be one of {', '.join(CHANNELS)}")
    if source not in SOURCES:
        raise DistributionError("source", f"must be one of {', '.join(SOURCES)}")
    invitation = Invitation(
        org_id=org_id, survey_id=survey_id, contact_id=contact_id, channel=channel,
        source=source, send_at=send_at or utcnow(), campaign_id=campaign_id,
        trigger_id=trigger_id, expires_at=expires_at,
        status=InvitationStatus.scheduled.value, error="", created_at=utcnow())
    session.add(invitation)
    session.flush()
    return invitation


def get_invitation(session: Session, org_id: str, invitation_id: str) -> Invitation | None:
    invitation = session.get(Invitation, invitation_id)
    return invitation if invitation is not None and invitation.org_id == org_id else None


def _advance(invitation: Invitation, status: str) -> None:
    if RANK.get(status, 0) > RANK.get(invitation.status, 0):
        invitation.status = status


def mark_invitation(session: Session, *, org_id: str, invitation_id: str, event: str,
                    at: datetime | None = None, response_id: str | None = None) -> Invitation:
    """Records a funnel event. Idempotent: each stage keeps its first time, the status only
    moves forward, and a later stage fills the earlier ones it implies (a completed survey
    was opened and started), so nothing is counted twice or skipped."""
    if event not in EVENTS:
        raise DistributionError("event", f"must be one of {', '.join(EVENTS)}")
    invitation = get_invitation(session, org_id, invitation_id)
    if invitation is None:
        raise DistributionError("invitation_id", "no such invitation in this organisation")
    at = at or utcnow()
    implied = {"completed": ("opened", "started", "completed"), "started": ("opened", "started"),
               "opened": ("opened",), "delivered": ("delivered",), "sent": ("sent",),
               "dismissed": ("dismissed",), "failed": ("failed",)}[event]
    for stage in implied:
        if getattr(invitation, f"{stage}_at") is None:
            setattr(invitation, f"{stage}_at", at)
    if event in ("opened", "started", "completed") and invitation.sent_at is not None \
            and invitation.delivered_at is None:
        invitation.delivered_at = at  # it was opened, so it arrived
    if response_id and invitation.response_id is None:
        invitation.response_id = response_id
    _advance(invitation, event)
    session.flush()
    return invitation


def sync_delivery(session: Session) -> int:
    """Copies notify's outcome onto the invitations it carried: a delivered message makes
    its invitation delivered, a dead one failed. Set-based, for every organisation.

    An SMS sent on a channel with delivery receipts on is delivered only once the carrier
    reported it (`receipt_status` "delivered"), at the carrier's time; a carrier failure
    makes the invitation failed with the carrier's code, like a dead message."""
    from npsloop.notify.models import MessageStatus, NotifyMessage, ReceiptStatus

    def message_field(column: Any) -> Any:
        return (select(column).where(NotifyMessage.id == Invitation.message_id)
                .scalar_subquery())

    msg = NotifyMessage
    delivered_ids = select(msg.id).where(
        msg.status == MessageStatus.delivered.value,
        or_(msg.receipt_status.is_(None), msg.receipt_status == ReceiptStatus.delivered.value))
    done = session.execute(
        update(Invitation)
        .where(Invitation.message_id.is_not(None), Invitation.delivered_at.is_(None),
               Invitation.message_id.in_(delivered_ids))
        .values(delivered_at=message_field(func.coalesce(msg.receipt_at, msg.delivered_at)),
                status=case((Invitation.status.in_(("sent", "failed")), "delivered"),
                            else_=Invitation.status))
        .execution_options(synchronize_session=False)).rowcount or 0
    failed_ids = select(msg.id).where(or_(
        msg.status == MessageStatus.dead.value,
        msg.receipt_status == ReceiptStatus.failed.value))
    done += session.execute(
        update(Invitation)
        .where(Invitation.message_id.is_not(None), Invitation.status == "sent",
               Invitation.message_id.in_(failed_ids))
        .values(status="failed",
                failed_at=message_field(func.coalesce(msg.dead_at, msg.receipt_at)),
                error=message_field(case(
                    (msg.receipt_status == ReceiptStatus.failed.value,
                     func.coalesce(msg.receipt_error, "")), else_=msg.last_error)))
        .execution_options(synchronize_session=False)).rowcount or 0
    return done


# -- tokens and links -------------------------------------------------------------------------


def _signature(purpose: str, invitation: Invitation, expires: int) -> str:
    key = get_settings().secret_key.encode()
    message = "|".join((purpose, invitation.id, invitation.survey_id,
                        invitation.contact_id or "-", str(expires))).encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def invitation_token(invitation: Invitation, purpose: str = "open") -> str:
    """"<invitation id>.<expiry, unix seconds or 0>.<signature>"; URL-safe, 70 characters."""
    expires = int(invitation.expires_at.timestamp()) if invitation.expires_at else 0
    if purpose == "unsubscribe":
        expires = 0  # an unsubscribe link keeps working after the survey link expires
    return f"{invitation.id}.{expires}.{_signature(purpose, invitation, expires)}"


@dataclass
class TokenCheck:
    invitation: Invitation | None
    problem: str  # "" | "invalid" | "expired"


def check_token(session: Session, token: str, purpose: str = "open",
                now: datetime | None = None) -> TokenCheck:
    parts = token.split(".") if len(token) <= 120 else []
    if len(parts) != 3 or not parts[1].isdigit():
        return TokenCheck(None, "invalid")
    invitation = session.get(Invitation, parts[0])
    if invitation is None:
        return TokenCheck(None, "invalid")
    expected = _signature(purpose, invitation, int(parts[1]))
    if not hmac.compare_digest(expected, parts[2]):
        return TokenCheck(None, "invalid")
    expires = int(parts[1])
    if expires and (now or utcnow()).timestamp() > expires:
        return TokenCheck(invitation, "expired")
    return TokenCheck(invitation, "")


def personal_link(invitation: Invitation, *, base_url: str) -> str:
    return f"{base_url.rstrip('/')}/i/{invitation_token(invitation)}"


def unsubscribe_link(invitation: Invitation, *, base_url: str) -> str:
    return f"{base_url.rstrip('/')}/u/{invitation_token(invitation, 'unsubscribe')}"


# -- unsubscribes -----------------------------------------------------------------------------


def is_unsubscribed(session: Session, *, org_id: str, contact_id: str, channel: str) -> bool:
    return session.scalar(select(Unsubscribe.id).where(
        Unsubscribe.org_id == org_id, Unsubscribe.contact_id == contact_id,
        Unsubscribe.channel.in_((channel, "all"))).limit(1)) is not None


def unsubscribed_among(session: Session, org_id: str, contact_ids: list[str],
                       channel: str) -> set[str]:
    """Which of these contacts opted out of `channel` (one query per batch)."""
    if not contact_ids:
        return set()
    return set(session.scalars(select(Unsubscribe.contact_id).where(
        Unsubscribe.org_id == org_id, Unsubscribe.contact_id.in_(contact_ids),
        Unsubscribe.channel.in_((channel, "all")))))


def unsubscribe(session: Session, invitation: Invitation, channel: str | None = None) -> bool:
    """Opts the invitation's contact out of its channel; True if it was new. Pending
    invitations of the contact on that channel are cancelled at once."""
    if invitation.contact_id is None:
        return False
    channel = channel or invitation.channel
    if is_unsubscribed(session, org_id=invitation.org_id, contact_id=invitation.contact_id,
                       channel=channel):
        return False
    session.add(Unsubscribe(org_id=invitation.org_id, contact_id=invitation.contact_id,
                            channel=channel, invitation_id=invitation.id, created_at=utcnow()))
    cancel = update(Invitation).where(
        Invitation.org_id == invitation.org_id, Invitation.contact_id == invitation.contact_id,
        Invitation.status == InvitationStatus.scheduled.value)
    if channel != "all":
        cancel = cancel.where(Invitation.channel == channel)
    session.execute(cancel.values(status=InvitationStatus.cancelled.value,
                                  error="unsubscribed")
                    .execution_options(synchronize_session=False))
    session.flush()
    return True


def resubscribe(session: Session, *, org_id: str, contact_id: str, channel: str) -> None:
    for row in session.scalars(select(Unsubscribe).where(
            Unsubscribe.org_id == org_id, Unsubscribe.contact_id == contact_id,
            Unsubscribe.channel == channel)):
        session.delete(row)
    session.flush()


# -- the funnel -------------------------------------------------------------------------------


def _with_bounces(session: Session, rows: list[FunnelRow], scoped: Any) -> list[FunnelRow]:
    """Fills `bounced`: failed SMS invitations whose carrier receipt said so (a second
    query, run only when SMS invitations failed)."""
    from npsloop.notify.models import NotifyMessage, ReceiptStatus

    inv = Invitation
    query = scoped(select(inv.survey_id, inv.channel, func.count())
                   .join(NotifyMessage, NotifyMessage.id == inv.message_id)
                   .where(inv.channel == "sms", inv.status == InvitationStatus.failed.value,
                          NotifyMessage.receipt_status == ReceiptStatus.failed.value))
    bounced = {(s, c): n for s, c, n in session.execute(query)}
    for row in rows:
        row.bounced = bounced.get((row.survey_id, row.channel), 0)
    return rows



@dataclass
class FunnelRow:
    survey_id: str
    channel: str
    invited: int | None
    delivered: int | None
    opened: int | None
    started: int
    completed: int
    response_rate: float | None  # completed / delivered (completed / started for open links)
    # Invitations that never arrived (None for open links); bounced: of those, the ones a
    # carrier's delivery receipt reported failed (SMS channels with receipts on).
    failed: int | None = None
    bounced: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def funnel(session: Session, *, org_id: str, survey_id: str | None = None,
           channel: str | None = None, date_from: datetime | None = None,
           date_to: datetime | None = None, campaign_id: str | None = None) -> list[FunnelRow]:
    """Per survey and channel: invitations created in the period, and how far they got.
    Open channels (public link, QR, ...) have no invitations: their rows count responses
    started and completed in the period, with invited/delivered/opened unknown (None)."""
    inv = Invitation

    def scoped(query: Any) -> Any:
        query = query.where(inv.org_id == org_id,
                            inv.status != InvitationStatus.cancelled.value)
        if survey_id:
            query = query.where(inv.survey_id == survey_id)
        if channel:
            query = query.where(inv.channel == channel)
        if campaign_id:
            query = query.where(inv.campaign_id == campaign_id)
        if date_from is not None:
            query = query.where(inv.created_at >= date_from)
        if date_to is not None:
            query = query.where(inv.created_at < date_to)
        return query.group_by(inv.survey_id, inv.channel)

    failed = func.count(case((inv.status == InvitationStatus.failed.value, 1)))
    query = scoped(select(inv.survey_id, inv.channel, func.count(),
                          func.count(inv.delivered_at), func.count(inv.opened_at),
                          func.count(inv.started_at), func.count(inv.completed_at), failed))
    rows = [FunnelRow(s, c, n, d, o, st, co, round(co / d, 4) if d else None, f, 0)
            for s, c, n, d, o, st, co, f in session.execute(query)]
    if any(row.channel == "sms" and row.failed for row in rows):
        rows = _with_bounces(session, rows, scoped)
    if campaign_id or (channel and channel not in OPEN_CHANNELS):
        return sorted(rows, key=lambda r: (r.survey_id, r.channel))
    resp = Response
    complete = func.sum(case((resp.status == "complete", 1), else_=0))
    open_query = (select(resp.survey_id, resp.channel, func.count(), complete)
                  .where(resp.org_id == org_id, resp.channel.in_(OPEN_CHANNELS))
                  .group_by(resp.survey_id, resp.channel))
    if survey_id:
        open_query = open_query.where(resp.survey_id == survey_id)
    if channel:
        open_query = open_query.where(resp.channel == channel)
    if date_from is not None:
        open_query = open_query.where(resp.created_at >= date_from)
    if date_to is not None:
        open_query = open_query.where(resp.created_at < date_to)
    for s, c, started, completed in session.execute(open_query):
        completed = int(completed or 0)
        rows.append(FunnelRow(s, c, None, None, None, started, completed,
                              round(completed / started, 4) if started else None))
    return sorted(rows, key=lambda r: (r.survey_id, r.channel))
