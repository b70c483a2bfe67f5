"""The digest job: sends each enabled digest once per period, when due.

Exactly once per (digest, period), whatever the number of workers:
  1. a run row is INSERTed for the due period; the UNIQUE (digest_id, period_key) lets one
     worker win and makes every other insert fail (IntegrityError: someone else has it);
  2. the winner holds a lease (claimed_by, claimed_until) while it renders and sends;
  3. a failed send is retried later (backoff) by whichever worker re-claims the row with a
     conditional UPDATE (`WHERE claimed_until is free`, rowcount 1 wins).
A worker that dies after the SMTP server accepted the mail but before it recorded "sent"
leaves a lease that expires, so the mail can go out again: at least once, with a stable
Message-ID (<run id@npsloop>) that lets a mailbox see the duplicate (the notify guarantee).
After downtime only the latest due period is sent (schedule.due_period).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from npsloop.core.config import get_settings
from npsloop.core.db import utcnow
from npsloop.core.jobs import PeriodicJob
from npsloop.notify.base import Outcome
from npsloop.notify.crypto import SecretBox
from npsloop.notify.service import secret_box
from npsloop.reports import digests, mailer
from npsloop.reports.models import Digest, DigestRun, RunStatus
from npsloop.reports.schedule import Period, due_period, month_period, week_period
from npsloop.reports.service import ReportError

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=10)
MAX_ATTEMPTS = 6
JOB_INTERVAL_S = 60.0


def backoff(attempts: int) -> timedelta:
    return timedelta(minutes=min(2 ** attempts, 120))


@dataclass(frozen=True)
class JobResult:
    sent: list[str]
    failed: list[str]


def period_of(run: DigestRun, digest: Digest, tz: str) -> Period:
    first = run.period_from.astimezone(ZoneInfo(tz)).date()
    if digest.frequency == "weekly":
        return week_period(first, weekday=digest.weekday, hour=digest.hour, tz=tz)
    return month_period(first, day_of_month=digest.day_of_month, hour=digest.hour, tz=tz)


def open_due_runs(session: Session, worker_id: str, now: datetime,
                  org_id: str | None = None) -> None:
    """Inserts a claimed run for every digest whose period is due and has none yet."""
    query = select(Digest).where(Digest.enabled.is_(True), Digest.channel_id.is_not(None))
    if org_id is not None:
        query = query.where(Digest.org_id == org_id)
    for digest in session.scalars(query).all():
        tz = digests.org_tz(session, digest.org_id)
        period = due_period(frequency=digest.frequency, weekday=digest.weekday,
                            day_of_month=digest.day_of_month, hour=digest.hour, tz=tz, now=now)
        if period.end <= digest.active_since:
            continue  # the period ended before the digest existed
        exists = session.scalar(select(DigestRun.id).where(
            DigestRun.digest_id == digest.id, DigestRun.period_key == period.key))
        if exists:
            continue
        # End the read transaction first: on SQLite a transaction that read and then writes
        # can fail at once when another worker wrote meanwhile; a fresh one waits its turn.
        session.commit()
        try:
            with session.begin_nested():
                session.add(DigestRun(
                    digest_id=digest.id, org_id=digest.org_id, period_key=period.key,
                    period_from=period.start, period_to=period.end,
                    status=RunStatus.sending.value, claimed_by=worker_id,
                    claimed_until=now + LEASE, next_attempt_at=now))
        except IntegrityError:
            continue  # another worker opened it first
        session.commit()


def claim(session: Session, worker_id: str, now: datetime,
          org_id: str | None = None) -> list[str]:
    """Leases the runs due for (another) attempt; returns the ids this worker won."""
    free = or_(DigestRun.claimed_until.is_(None), DigestRun.claimed_until < now,
               DigestRun.claimed_by == worker_id)
    due = and_(DigestRun.status == RunStatus.sending.value,
               or_(DigestRun.next_attempt_at.is_(None), DigestRun.next_attempt_at <= now))
    query = select(DigestRun.id).where(due, free)
    if org_id is not None:
        query = query.where(DigestRun.org_id == org_id)
    candidates = list(session.scalars(query))
    session.commit()
    won = []
    for run_id in candidates:
        result = session.execute(
            update(DigestRun).where(DigestRun.id == run_id, due, free)
            .values(claimed_by=worker_id, claimed_until=now + LEASE)
            .execution_options(synchronize_session=False))
        session.commit()
        if result.rowcount == 1:
            won.append(run_id)
    return won


def send_run(session: Session, run_id: str, worker_id: str, box: SecretBox, *,
             min_n: int, now: datetime) -> bool:
    run = session.get(DigestRun, run_id)
    if run is None or run.claimed_by != worker_id or run.status != RunStatus.sending.value:
        return False
    digest = session.get(Digest, run.digest_id)
    assert digest is not None  # runs cascade with their digest
    tz = digests.org_tz(session, digest.org_id)
    run.attempts += 1
    try:
        sender = mailer.channel_mailer(session, digest.org_id, digest.channel_id, box)
        _, mail = digests.render(session, digest, period_of(run, digest, tz), min_n=min_n,
                                 now=now)
        result = mailer.send(sender, mail, message_id=run.id, recipients=digest.recipients)
        outcome, error = result.outcome, result.error or ""
    except (mailer.DigestMailError, ReportError) as exc:  # settings problem: will not heal
        outcome, error = Outcome.failed, f"{exc.field}: {exc.message}"
    except OSError as exc:  # connection refused, timeout: SMTP is down, try later
        outcome, error = Outcome.retry, f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # noqa: BLE001 - recorded and retried with backoff, not lost
        log.exception("digest run %s failed", run_id)
        session.rollback()
        run = session.get(DigestRun, run_id)
        assert run is not None
        run.attempts += 1
        outcome, error = Outcome.retry, f"{type(exc).__name__}: {exc}"
    run.error = error[:2000]
    run.claimed_until = None
    if outcome == Outcome.delivered:
        run.status, run.sent_at = RunStatus.sent.value, utcnow()
    elif outcome == Outcome.retry and run.attempts < MAX_ATTEMPTS:
        run.next_attempt_at = now + backoff(run.attempts)
    else:
        run.status = RunStatus.failed.value
    session.commit()
    return outcome == Outcome.delivered


def run_once(factory: sessionmaker[Session], worker_id: str, box: SecretBox, *,
             min_n: int | None = None, now: datetime | None = None,
             org_id: str | None = None) -> JobResult:
    moment = now or utcnow()
    threshold = min_n if min_n is not None else get_settings().min_responses_for_stats
    sent: list[str] = []
    failed: list[str] = []
    with factory() as session:
        open_due_runs(session, worker_id, moment, org_id)
        for run_id in claim(session, worker_id, moment, org_id):
            ok = send_run(session, run_id, worker_id, box, min_n=threshold, now=moment)
            (sent if ok else failed).append(run_id)
    return JobResult(sent, failed)


def retry_run(session: Session, run: DigestRun) -> None:
    """An admin asks for a failed run to be sent again."""
    run.status, run.attempts, run.next_attempt_at = RunStatus.sending.value, 0, utcnow()
    run.claimed_by = run.claimed_until = None
    session.flush()


WORKER_ID = f"digest-{uuid.uuid4().hex[:8]}"


def run_due(factory: sessionmaker[Session]) -> None:
    """One pass of the periodic job (core.jobs runs it every minute in serve and worker)."""
    run_once(factory, WORKER_ID, secret_box())


JOBS = [PeriodicJob("digests", JOB_INTERVAL_S, run_due)]
