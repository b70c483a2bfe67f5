"""Date-range parsing in an organisation's time zone."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def parse_bound(value: str | None, tz: str, *, end: bool, field: str) -> datetime | None:
    """'2026-03-01' means the start (or, for an upper bound, the end) of that local day;
    a full ISO datetime is taken as given (naive = organisation time)."""
    if value is None or value == "":
        return None
    zone = ZoneInfo(tz)
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            if end:
                day += timedelta(days=1)
            return datetime.combine(day, time.min, tzinfo=zone)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{field}: '{value}' is not a date (YYYY-MM-DD) or ISO datetime") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)
