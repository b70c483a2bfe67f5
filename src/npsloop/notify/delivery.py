"""The delivery worker: leases due messages, sends them, logs every attempt, retries.

Claiming: due rows are picked with FOR UPDATE SKIP LOCKED on PostgreSQL and then leased
with a conditional UPDATE (`locked_until` in the past), which alone is what keeps two
SQLite workers apart. Only the head of each ordering chain is claimable, so a ticket's
second message never overtakes its first. The lease is committed before the vendor call,
and the result is written after it: a crash in between re-sends after the lease expires
(at-least-once; receivers dedupe on the message id).
"""

from __future__ import annotations

import logging
import random
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from pydantic import ValidationError
from sqlalchemy import ColumnElement, Select, and_, exists, false, func, or_, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from npsloop.core.db import is_postgres, new_id, utcnow
from npsloop.notify import ratelimit, receipts, service, webhooks
from npsloop.notify.base import Notice, Notifier, Outcome, Outgoing, SendResult
from npsloop.notify.crypto import SecretBox, SecretDecryptError
from npsloop.notify.models import (
    AttemptOutcome,
    DeliveryAttempt,
    MessageStatus,
    NotifyChannel,
    NotifyMessage,
    RateBucket,
    WebhookEndpoint,
)

log = logging.getLogger(__name__)
PENDING = MessageStatus.pending.value


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 8
    base_delay: float = 10.0  # seconds before the 2nd attempt; doubles each time
    max_delay: float = 3600.0
    jitter: float = 0.5  # the fraction of each delay that is random
    lease_seconds: float = 300.0
    batch_size: int = 10

    def backoff(self, attempts: int, retry_after: float | None = None) -> float:
        delay = min(self.max_delay, self.base_delay * 2 ** max(attempts - 1, 0))
        delay = delay * (1 - self.jitter) + random.uniform(0, delay * self.jitter)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_delay))
        return delay


def lock_for_write(session: Session) -> None:
    """SQLite only: end any read transaction and take the write lock at once (what BEGIN
    IMMEDIATE does). A transaction that reads first and writes later can otherwise fail
    with a "database is locked" that no busy timeout waits out, when another connection
    wrote in between."""
    if session.get_bind().dialect.name != "sqlite":
        return
    session.commit()
    session.execute(update(RateBucket).where(false()).values(key=RateBucket.key))


def _due_ids(policy: DeliveryPolicy, now: datetime) -> Select[tuple[str]]:
    """Due, unleased messages at the head of their ordering chain, oldest first."""
    msg = NotifyMessage
    earlier = aliased(NotifyMessage)
    blocked = exists().where(
        earlier.target == msg.target,
        earlier.ordering_key == msg.ordering_key,
        earlier.status == PENDING,
        or_(earlier.created_at < msg.created_at,
            and_(earlier.created_at == msg.created_at, earlier.id < msg.id)),
    )
    return (
        select(msg.id)
        .where(msg.status == PENDING, msg.next_attempt_at <= now, _free(now))
        .where(or_(msg.ordering_key.is_(None), ~blocked))
        .order_by(msg.next_attempt_at, msg.created_at)
        .limit(policy.batch_size)
    )


def _free(now: datetime) -> ColumnElement[bool]:
    return or_(NotifyMessage.locked_until.is_(None), NotifyMessage.locked_until < now)


def claim(session: Session, worker_id: str, policy: DeliveryPolicy) -> list[str]:
    """Leases up to batch_size due messages to this worker; returns their ids."""
    msg = NotifyMessage
    now = utcnow()
    lease = now + timedelta(seconds=policy.lease_seconds)
    if not is_postgres(session):
        # SQLite: one UPDATE, the first statement of its transaction, so it runs under the
        # write lock: no other worker can lease the same rows in between.
        session.commit()
        session.execute(
            update(msg)
            .where(msg.id.in_(_due_ids(policy, now).scalar_subquery()))
            .values(locked_by=worker_id, locked_until=lease)
            .execution_options(synchronize_session=False)
        )
        session.commit()
        return list(session.scalars(select(msg.id).where(
            msg.locked_by == worker_id, msg.locked_until == lease, msg.status == PENDING)))
    candidates = list(session.scalars(
        _due_ids(policy, now).with_for_update(skip_locked=True, of=msg)))
    won = []
    for message_id in candidates:
        # The WHERE repeats the lease test: a row leased meanwhile is not taken twice.
        result = session.execute(
            update(msg)
            .where(msg.id == message_id, msg.status == PENDING, _free(now))
            .values(locked_by=worker_id, locked_until=lease)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            won.append(message_id)
    session.commit()
    return won


def _outgoing(message: NotifyMessage) -> Outgoing:
    notice = Notice.from_dict(message.body) if message.event_type is None else None
    return Outgoing(
        id=message.id, notice=notice, event_type=message.event_type,
        data=message.body if message.event_type is not None else None,
        recipients=tuple(message.recipients or ()), created_at=message.created_at,
    )


def _destination(session: Session, message: NotifyMessage, box: SecretBox
                 ) -> tuple[Notifier | None, str]:
    """The notifier for the message's channel or endpoint, or why there is none."""
    try:
        if message.channel_id:
            channel = session.get(NotifyChannel, message.channel_id)
            if channel is None or not channel.enabled:
                return None, "channel disabled or deleted"
            return service.build_notifier(channel, box), ""
        endpoint = session.get(WebhookEndpoint, message.endpoint_id)
        if endpoint is None or not endpoint.enabled:
            reason = endpoint.disabled_reason if endpoint is not None else "deleted"
            return None, f"webhook endpoint disabled: {reason or 'by an admin'}"
        return webhooks.build_notifier(endpoint, box), ""
    except (SecretDecryptError, ValidationError, service.NotifyError) as exc:
        return None, f"channel configuration unusable: {exc}"


def _send(notifier: Notifier, outgoing: Outgoing) -> SendResult:
    try:
        return notifier.send(outgoing)
    except (httpx.TransportError, OSError) as exc:
        return SendResult(Outcome.retry, error=f"{type(exc).__name__}: {exc}"[:1000])
    except ValueError as exc:  # the message cannot be expressed on this channel
        return SendResult(Outcome.failed, error=f"{type(exc).__name__}: {exc}"[:1000])
    except Exception as exc:  # noqa: BLE001 - an SDK's surprise must not kill the worker
        log.exception("notifier %s raised", notifier.kind)
        return SendResult(Outcome.retry, error=f"{type(exc).__name__}: {exc}"[:1000])


def _finish(session: Session, message: NotifyMessage, result: SendResult, *, worker_id: str,
            started: datetime, duration_ms: int, policy: DeliveryPolicy,
            await_receipt: bool = False) -> str:
    """Logs the attempt and moves the message on; returns the attempt outcome."""
    attempt_no = (session.scalar(select(func.count()).select_from(DeliveryAttempt).where(
        DeliveryAttempt.message_id == message.id)) or 0) + 1
    message.attempts += 1
    now = utcnow()
    if result.outcome == Outcome.delivered:
        outcome = AttemptOutcome.delivered
        message.status = MessageStatus.delivered.value
        message.delivered_at = now
        message.last_error = ""
        if result.vendor_ids:
            receipts.record_sent(session, message, result.vendor_ids, awaiting=await_receipt)
    elif result.outcome == Outcome.retry and message.attempts < policy.max_attempts:
        outcome = AttemptOutcome.retry
        message.next_attempt_at = now + timedelta(
            seconds=policy.backoff(message.attempts, result.retry_after))
        message.last_error = result.error
    else:
        outcome = AttemptOutcome.failed
        message.status = MessageStatus.dead.value
        message.dead_at = now
        message.last_error = result.error or "failed"
    message.locked_by = None
    message.locked_until = None
    message.updated_at = now
    session.add(DeliveryAttempt(
        message_id=message.id, org_id=message.org_id, attempt_no=attempt_no,
        worker_id=worker_id, started_at=started, duration_ms=duration_ms,
        outcome=outcome.value, status_code=result.status_code, vendor_code=result.vendor_code,
        error=result.error[:2000],
    ))
    if result.disable_target and message.endpoint_id:
        endpoint = session.get(WebhookEndpoint, message.endpoint_id)
        if endpoint is not None:
            webhooks.disable(endpoint, f"receiver answered HTTP {result.status_code} (gone)")
    return outcome.value


def _record(session: Session, message_id: str, result: SendResult, *, worker_id: str,
            started: datetime, duration_ms: int, policy: DeliveryPolicy,
            await_receipt: bool = False) -> str:
    lock_for_write(session)
    message = session.get(NotifyMessage, message_id, populate_existing=True)
    if message is None:  # deleted with its channel meanwhile
        session.commit()
        return "skipped"
    if message.locked_by != worker_id:
        log.warning("lease on %s was lost during the send; recording anyway", message_id)
    outcome = _finish(session, message, result, worker_id=worker_id, started=started,
                      duration_ms=duration_ms, policy=policy, await_receipt=await_receipt)
    session.commit()
    return outcome


def deliver(factory: sessionmaker[Session], message_id: str, worker_id: str,
            policy: DeliveryPolicy, box: SecretBox) -> str:
    """Sends one leased message. Returns delivered | retry | failed | deferred | skipped."""
    with factory() as session:
        message = session.get(NotifyMessage, message_id)
        if message is None or message.status != PENDING or message.locked_by != worker_id:
            session.commit()
            return "skipped"
        notifier, problem = _destination(session, message, box)
        outgoing = _outgoing(message)
        session.commit()  # no transaction (nor lock) is held during the vendor call
        if notifier is None:
            return _record(session, message_id, SendResult(Outcome.failed, error=problem),
                           worker_id=worker_id, started=utcnow(), duration_ms=0, policy=policy)
        key = notifier.rate_key()
        if key and notifier.rate_limits:
            wait = ratelimit.reserve(session, key, notifier.rate_limits)
            if wait > 0:
                # Not an attempt: the message waits for a free slot, its lease is released.
                lock_for_write(session)
                session.execute(
                    update(NotifyMessage).where(NotifyMessage.id == message_id,
                                                NotifyMessage.locked_by == worker_id)
                    .values(next_attempt_at=utcnow() + timedelta(seconds=wait),
                            locked_by=None, locked_until=None)
                )
                session.commit()
                return "deferred"
        started, clock = utcnow(), time.monotonic()
        result = _send(notifier, outgoing)
        duration_ms = int((time.monotonic() - clock) * 1000)
        # An SMS channel with receipts on: delivered means the carrier said so, later.
        await_receipt = bool(getattr(notifier.config, "receipts", False))
        return _record(session, message_id, result, worker_id=worker_id, started=started,
                       duration_ms=duration_ms, policy=policy, await_receipt=await_receipt)


def run_once(factory: sessionmaker[Session], worker_id: str, policy: DeliveryPolicy,
             box: SecretBox) -> int:
    """Claims one batch and sends it; returns how many messages were claimed."""
    with factory() as session:
        ids = claim(session, worker_id, policy)
    for message_id in ids:
        deliver(factory, message_id, worker_id, policy, box)
    return len(ids)


class DeliveryWorker(threading.Thread):
    """Polls the queue until stopped; several may run, in threads or processes."""

    def __init__(self, factory: sessionmaker[Session], box: SecretBox,
                 policy: DeliveryPolicy | None = None, interval: float = 1.0,
                 name: str | None = None) -> None:
        super().__init__(name=name or "npsloop-notify", daemon=True)
        self.factory = factory
        self.box = box
        self.policy = policy or DeliveryPolicy()
        self.interval = interval
        self.stopping = threading.Event()
        self.worker_id = f"{socket.gethostname()}-notify-{new_id()[:6]}"

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                handled = run_once(self.factory, self.worker_id, self.policy, self.box)
            except Exception:  # noqa: BLE001 - the loop must survive a DB hiccup
                log.exception("notify worker loop error")
                handled = 0
            if not handled:
                self.stopping.wait(self.interval)

    def stop(self, timeout: float | None = 5.0) -> None:
        self.stopping.set()
        if self.is_alive():
            self.join(timeout)
