"""Recurring campaigns: every N weeks or months (wall-clock time in the schedule's zone,
counted from its start) or a cron expression (cronsim, also in the zone).

A due run is claimed with a conditional UPDATE that moves `next_run_at` from the due time
to the first occurrence after now (PostgreSQL first skips rows another worker holds), and
recorded in `distribution_schedule_runs`, unique per (schedule, due time). So two workers
never run the same occurrence, and after downtime the missed occurrence runs once: the
schedule jumps to the next future occurrence instead of replaying every missed one.
"""

from __future__ import annotations

import calendar
import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from npsloop.core.db import is_postgres, utcnow
from npsloop.distribution import campaigns
from npsloop.distribution.models import Campaign, Schedule, ScheduleRun
from npsloop.distribution.service import DistributionError

log = logging.getLogger(__name__)
UNITS = ("week", "month", "cron")
MAX_STEPS = 100_000  # an interval schedule started long ago still resolves quickly


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise DistributionError("timezone", f"unknown time zone {name!r}") from exc


def _add_months(moment: datetime, months: int) -> datetime:
    """Same day and time `months` later; the 31st becomes the month's last day."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def occurrence_after(schedule: Schedule, after: datetime) -> datetime:
    """The first occurrence strictly after `after` (UTC)."""
    zone = _zone(schedule.timezone)
    if schedule.every_unit == "cron":
        local = after.astimezone(zone)
        return next(CronSim(schedule.cron, local)).astimezone(after.tzinfo)
    start = schedule.starts_at.astimezone(zone).replace(tzinfo=None)
    step = max(schedule.every_count, 1)
    for k in range(MAX_STEPS):
        if schedule.every_unit == "week":
            local = start + timedelta(weeks=k * step)
        else:
            local = _add_months(start, k * step)
        moment = local.replace(tzinfo=zone).astimezone(after.tzinfo)
        if moment > after:
            return moment
    raise DistributionError("starts_at", "too far in the past for this interval")


def first_run(schedule: Schedule, now: datetime) -> datetime:
    """The first occurrence at or after the later of now and the start."""
    if schedule.every_unit != "cron" and schedule.starts_at >= now:
        return schedule.starts_at
    return occurrence_after(schedule, max(now, schedule.starts_at) - timedelta(microseconds=1))


def _check_rule(every_unit: str, every_count: int, cron: str) -> tuple[str, int, str]:
    if every_unit not in UNITS:
        raise DistributionError("every_unit", f"must be one of {', '.join(UNITS)}")
    if every_unit == "cron":
        try:
            CronSim(cron.strip(), utcnow())
        except (CronSimError, ValueError) as exc:
            raise DistributionError("cron", f"not a valid cron expression: {exc}") from exc
        return every_unit, 1, cron.strip()
    if not 1 <= every_count <= 52:
        raise DistributionError("every_count", "must be between 1 and 52")
    return every_unit, every_count, ""


def create_schedule(
    session: Session, *, org_id: str, name: str, survey_id: str, segment_id: str,
    channel: str, notify_channel_id: str, every_unit: str, every_count: int = 1,
    cron: str = "", starts_at: datetime | None = None, timezone: str = "Asia/Shanghai",
    messages: dict[str, Any] | None = None, expires_days: int = 30, actor: str = "",
    now: datetime | None = None,
) -> Schedule:
    now = now or utcnow()
    survey, _, _ = campaigns.check_target(session, org_id, survey_id=survey_id,
                                          segment_id=segment_id, channel=channel,
                                          notify_channel_id=notify_channel_id)
    every_unit, every_count, cron = _check_rule(every_unit, every_count, cron)
    _zone(timezone)
    if not 1 <= expires_days <= 365:
        raise DistributionError("expires_days", "must be between 1 and 365")
    name = name.strip() or survey.name
    if len(name) > 200:
        raise DistributionError("name", "at most 200 characters")
    schedule = Schedule(
        org_id=org_id, name=name, survey_id=survey_id, segment_id=segment_id, channel=channel,
        notify_channel_id=notify_channel_id, messages=campaigns.check_messages(messages),
        expires_days=expires_days, every_unit=every_unit, every_count=every_count, cron=cron,
        timezone=timezone, starts_at=starts_at or now, enabled=True, created_by=actor,
        created_at=now)
    schedule.next_run_at = first_run(schedule, now)
    session.add(schedule)
    session.flush()
    return schedule


EDITABLE = ("name", "segment_id", "channel", "notify_channel_id", "messages", "expires_days",
            "every_unit", "every_count", "cron", "starts_at", "timezone", "enabled")
RULE_FIELDS = {"every_unit", "every_count", "cron", "starts_at", "timezone"}
TARGET_FIELDS = {"segment_id", "channel", "notify_channel_id"}


def update_schedule(session: Session, schedule: Schedule, changes: dict[str, Any], *,
                    now: datetime | None = None) -> dict[str, Any]:
    """Edits a schedule (only the keys in `changes`); `enabled` pauses or resumes it.
    Returns the fields that changed, old and new, for the audit log. A paused schedule has
    no next run; a resumed or re-timed one runs next at its first occurrence from now, so a
    long pause does not replay what it skipped."""
    now = now or utcnow()
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise DistributionError(sorted(unknown)[0], "cannot be changed")
    for key, value in changes.items():
        if value is None:
            raise DistributionError(key, "must not be null")
    merged = {key: changes.get(key, getattr(schedule, key)) for key in EDITABLE}
    resumed = merged["enabled"] and not schedule.enabled
    if "name" in changes:
        merged["name"] = merged["name"].strip() or schedule.name
        if len(merged["name"]) > 200:
            raise DistributionError("name", "at most 200 characters")
    if resumed or any(merged[key] != getattr(schedule, key) for key in TARGET_FIELDS):
        campaigns.check_target(session, schedule.org_id, survey_id=schedule.survey_id,
                               segment_id=merged["segment_id"], channel=merged["channel"],
                               notify_channel_id=merged["notify_channel_id"])
    if RULE_FIELDS & set(changes):
        unit = merged["every_unit"]
        if unit != "cron" and str(changes.get("cron") or "").strip():
            raise DistributionError("cron", "only used when every_unit is cron")
        cron = merged["cron"] if unit == "cron" else ""
        merged["every_unit"], merged["every_count"], merged["cron"] = _check_rule(
            unit, merged["every_count"] if unit != "cron" else 1, cron)
        _zone(merged["timezone"])
    if "messages" in changes:  # a language left out keeps its current text
        merged["messages"] = campaigns.check_messages(
            {**schedule.messages, **merged["messages"]})
    if "starts_at" in changes and merged["starts_at"].tzinfo is None:
        raise DistributionError("starts_at", "needs a time zone offset, e.g. +08:00")
    if not 1 <= merged["expires_days"] <= 365:
        raise DistributionError("expires_days", "must be between 1 and 365")
    changed = {key: {"from": _plain(getattr(schedule, key)), "to": _plain(value)}
               for key, value in merged.items() if getattr(schedule, key) != value}
    for key, value in merged.items():
        setattr(schedule, key, value)
    if not schedule.enabled:
        schedule.next_run_at = None
    elif resumed or RULE_FIELDS & set(changed):
        schedule.next_run_at = first_run(schedule, now)
    session.flush()
    return changed


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def delete_schedule(session: Session, schedule: Schedule) -> int:
    """Removes a schedule and its run log; the campaigns it created, their invitations and
    answers stay (they only lose the link to the schedule). Returns how many campaigns."""
    kept = session.execute(
        update(Campaign).where(Campaign.org_id == schedule.org_id,
                               Campaign.schedule_id == schedule.id)
        .values(schedule_id=None).execution_options(synchronize_session=False)).rowcount or 0
    session.execute(delete(ScheduleRun).where(ScheduleRun.schedule_id == schedule.id))
    session.delete(schedule)
    session.flush()
    return kept


def list_schedules(session: Session, org_id: str) -> list[Schedule]:
    return list(session.scalars(select(Schedule).where(Schedule.org_id == org_id)
                                .order_by(Schedule.created_at.desc())))


def get_schedule(session: Session, org_id: str, schedule_id: str) -> Schedule | None:
    schedule = session.get(Schedule, schedule_id)
    return schedule if schedule is not None and schedule.org_id == org_id else None


def runs_of(session: Session, schedule: Schedule, limit: int = 20) -> list[ScheduleRun]:
    return list(session.scalars(select(ScheduleRun).where(
        ScheduleRun.schedule_id == schedule.id).order_by(ScheduleRun.due_at.desc())
        .limit(limit)))


def _claim(session: Session, schedule: Schedule, now: datetime) -> datetime | None:
    """Moves the schedule past its due time; returns that due time if this worker won."""
    due = schedule.next_run_at
    if due is None:
        return None
    following = occurrence_after(schedule, now)
    won = session.execute(
        update(Schedule).where(Schedule.id == schedule.id, Schedule.next_run_at == due,
                               Schedule.enabled.is_(True))
        .values(next_run_at=following, last_run_at=now)
        .execution_options(synchronize_session=False)).rowcount == 1
    return due if won else None


def run_due(session: Session, *, now: datetime | None = None, worker_id: str = "",
            limit: int = 10) -> list[ScheduleRun]:
    """Runs every due schedule once: a campaign per run, started at once (its invitations
    are created by the worker's planning step). Flushes only."""
    now = now or utcnow()
    query = (select(Schedule).where(Schedule.enabled.is_(True), Schedule.next_run_at <= now)
             .order_by(Schedule.next_run_at).limit(limit))
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    done = []
    for schedule in list(session.scalars(query)):
        due = _claim(session, schedule, now)
        if due is None:
            continue
        run = ScheduleRun(org_id=schedule.org_id, schedule_id=schedule.id, due_at=due,
                          ran_at=now, worker_id=worker_id)
        try:
            with session.begin_nested():
                session.add(run)
        except IntegrityError:  # another worker recorded this occurrence first
            continue
        try:
            with session.begin_nested():
                campaign = campaigns.create_campaign(
                    session, org_id=schedule.org_id, survey_id=schedule.survey_id,
                    name=f"{schedule.name} · {due.astimezone(_zone(schedule.timezone)):%Y-%m-%d}",
                    segment_id=schedule.segment_id, channel=schedule.channel,
                    notify_channel_id=schedule.notify_channel_id, messages=schedule.messages,
                    expires_days=schedule.expires_days, actor=f"schedule:{schedule.id}",
                    schedule_id=schedule.id)
                # The worker's next step invites the segment batch by batch.
                campaigns.start_send(session, campaign, now=now, schedule_run_id=run.id)
                run.campaign_id = campaign.id
        except DistributionError as exc:  # e.g. the survey was paused: the run is recorded
            log.warning("schedule %s run %s skipped: %s", schedule.id, due, exc.message)
        done.append(run)
    session.flush()
    return done
