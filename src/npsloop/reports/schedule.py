"""When a digest is due and which period it reports, in the organisation's time zone.

A weekly digest reports the last full ISO week (Monday to Sunday) and goes out on its
weekday at its hour in the following week; a monthly one reports the last full calendar
month and goes out on its day of the month (1-28, so every month has it) at its hour.
`due_period` returns the most recent period whose send time has passed: a worker that was
down for a while sends that one period once when it comes back, not a burst of old reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from npsloop.reports.models import Frequency


@dataclass(frozen=True)
class Period:
    key: str  # "2026-W48" | "2026-11"
    first_day: date  # local, inclusive
    last_day: date  # local, inclusive
    start: datetime  # UTC bound, inclusive
    end: datetime  # UTC bound, exclusive
    send_at: datetime  # when it is due (UTC)


def _local(day: date, hour: int, tz: str) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=ZoneInfo(tz))


def _month_start(day: date, back: int = 0) -> date:
    index = day.year * 12 + day.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


def week_period(week_start: date, *, weekday: int, hour: int, tz: str) -> Period:
    """The ISO week starting on `week_start` (a Monday), sent in the week after."""
    end_day = week_start + timedelta(days=7)
    iso = week_start.isocalendar()
    return Period(
        key=f"{iso.year}-W{iso.week:02d}", first_day=week_start,
        last_day=end_day - timedelta(days=1),
        start=_local(week_start, 0, tz), end=_local(end_day, 0, tz),
        send_at=_local(end_day + timedelta(days=weekday), hour, tz),
    )


def month_period(month_start: date, *, day_of_month: int, hour: int, tz: str) -> Period:
    next_month = _month_start(month_start + timedelta(days=32))
    return Period(
        key=f"{month_start.year}-{month_start.month:02d}", first_day=month_start,
        last_day=next_month - timedelta(days=1),
        start=_local(month_start, 0, tz), end=_local(next_month, 0, tz),
        send_at=_local(next_month.replace(day=day_of_month), hour, tz),
    )


def due_period(*, frequency: str, weekday: int, day_of_month: int, hour: int, tz: str,
               now: datetime) -> Period:
    """The latest period whose send time is at or before `now`."""
    today = now.astimezone(ZoneInfo(tz)).date()
    if frequency == Frequency.weekly.value:
        this_week = today - timedelta(days=today.weekday())
        for back in (1, 2):
            period = week_period(this_week - timedelta(days=7 * back), weekday=weekday,
                                 hour=hour, tz=tz)
            if period.send_at <= now:
                return period
        raise AssertionError("unreachable: two weeks back is always due")
    for back in (1, 2):
        period = month_period(_month_start(today, back), day_of_month=day_of_month,
                              hour=hour, tz=tz)
        if period.send_at <= now:
            return period
    raise AssertionError("unreachable: two months back is always due")


def next_send(*, frequency: str, weekday: int, day_of_month: int, hour: int, tz: str,
              now: datetime) -> datetime:
    """The next send time after `now` (shown on the settings page)."""
    due = due_period(frequency=frequency, weekday=weekday, day_of_month=day_of_month,
                     hour=hour, tz=tz, now=now)
    if frequency == Frequency.weekly.value:
        return week_period(due.first_day + timedelta(days=7), weekday=weekday, hour=hour,
                           tz=tz).send_at
    return month_period(due.last_day + timedelta(days=1), day_of_month=day_of_month,
                        hour=hour, tz=tz).send_at
