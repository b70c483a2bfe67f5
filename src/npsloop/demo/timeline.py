"""The demo year: daily volume, shopping festivals and the incidents that shape the NPS story.

Everything is computed from one anchor date (the organisation's "today"), so the same call on
the same day gives the same year. The window is the 364 days that end *yesterday*: a response
stamped later today could lie in the future when the seed runs early in the morning, and a
dashboard's "last 12 months" (today and the 364 days before) then holds the whole year.

The story the data tells (days are counted back from the anchor):
- volume grows ~35% over the year, with weekend peaks, the Spring Festival rush (年货节) and
  holiday lull, 618, Double 11 and Double 12 peaks, and a quieter National Day week;
- days 235-145 ago: a warehouse migration in East China (上海, 杭州, 苏州, 南京) with a new
  cold-chain courier makes delivery late, so the after-delivery NPS falls and recovers;
- festival peaks strain delivery for a few days each;
- days 80-59 ago: an app release crashes at checkout until a hotfix;
- summer heat hurts fresh produce (July/August); customer service improves all year.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import accumulate
from zoneinfo import ZoneInfo

WINDOW_DAYS = 364

# Chinese New Year's Day (正月初一); the demo window never leaves this range in practice.
SPRING_FESTIVAL = {
    2023: date(2023, 1, 22), 2024: date(2024, 2, 10), 2025: date(2025, 1, 29),
    2026: date(2026, 2, 17), 2027: date(2027, 2, 6), 2028: date(2028, 1, 26),
    2029: date(2029, 2, 13), 2030: date(2030, 2, 3), 2031: date(2031, 1, 23),
    2032: date(2032, 2, 11), 2033: date(2033, 1, 31), 2034: date(2034, 2, 19),
    2035: date(2035, 2, 8), 2036: date(2036, 1, 28),
}
WEEKDAY_VOLUME = (0.95, 0.92, 0.94, 0.98, 1.06, 1.22, 1.18)  # Monday first
EAST_CHINA = frozenset({"上海", "杭州", "苏州", "南京"})
# Relative weight of each local hour for answering a survey: breakfast, lunch and evening.
HOUR_WEIGHTS = (
    0.3, 0.15, 0.08, 0.05, 0.05, 0.12, 0.4, 1.0, 1.6, 1.8, 1.7, 1.6,
    1.8, 1.5, 1.3, 1.3, 1.4, 1.6, 2.0, 2.4, 2.6, 2.3, 1.6, 0.8,
)

HOURS = tuple(range(24))
HOUR_CUMULATIVE = tuple(accumulate(HOUR_WEIGHTS))


@dataclass
class Day:
    """One local calendar day of the demo year and what was going on."""

    date: date
    index: int  # 0 = first day of the window
    volume: float  # order volume relative to an ordinary weekday at the start
    events: set[str] = field(default_factory=set)
    delivery_crisis: float = 0.0  # 0..1, East China warehouse migration
    peak_strain: float = 0.0  # 0..1, festival load on couriers
    app_outage: float = 0.0  # 0..1, crashing release
    heat: float = 0.0  # 0..1, summer spoilage
    promo: float = 0.0  # 0..1, festival discounts
    progress: float = 0.0  # 0..1, share of the year gone by (service training, growth)


def _ramp(days_ago: int, start: int, full: int, fade: int, end: int) -> float:
    """0 before `start` days ago, rising to 1 at `full`, 1 until `fade`, back to 0 at `end`."""
    if days_ago > start or days_ago < end:
        return 0.0
    if days_ago > full:
        return (start - days_ago) / (start - full)
    if days_ago >= fade:
        return 1.0
    return (days_ago - end) / (fade - end)


def _festivals(day: date) -> tuple[set[str], float, float, float]:
    """Events of a day, with their volume multiplier, courier strain and promotion level."""
    events: set[str] = set()
    volume, strain, promo = 1.0, 0.0, 0.0
    new_year = SPRING_FESTIVAL.get(day.year)
    next_new_year = SPRING_FESTIVAL.get(day.year + 1)
    for festival in (new_year, next_new_year):
        if festival is None:
            continue
        offset = (day - festival).days
        if -21 <= offset <= -2:
            events.add("spring_rush")
            volume, strain, promo = 1.55 + 0.02 * (offset + 21), 0.35, 0.5
        elif -1 <= offset <= 6:
            events.add("spring_holiday")
            volume, strain, promo = 0.5, 0.6, 0.1
        elif 7 <= offset <= 14:
            volume = 0.85
    month, dom = day.month, day.day
    if month == 11 and 1 <= dom <= 16:
        events.add("double11")
        if dom <= 10:
            volume, strain, promo = 1.45, 0.15, 0.8
        elif dom == 11:
            volume, strain, promo = 2.7, 0.5, 1.0
        else:  # the parcels of the 11th arrive over the following days
            volume, strain, promo = 1.9 - 0.1 * (dom - 12), 0.7 - 0.1 * (dom - 12), 0.3
    elif month == 10 and dom >= 20:
        events.add("double11")
        volume, promo = 1.15, 0.4
    elif month == 12 and 10 <= dom <= 14:
        events.add("double12")
        volume, strain, promo = 1.3, 0.15, 0.6
    elif month == 6 and 1 <= dom <= 20:
        events.add("mid_year_618")
        volume, strain, promo = (2.0, 0.4, 1.0) if dom == 18 else (1.3, 0.1, 0.7)
    elif month == 10 and dom <= 7:
        events.add("national_day")
        volume = 0.85
    return events, volume, strain, promo


def build_days(anchor: date, rng: random.Random) -> list[Day]:
    """The WINDOW_DAYS local days before `anchor`, oldest first."""
    days = []
    start = anchor - timedelta(days=WINDOW_DAYS)
    for index in range(WINDOW_DAYS):
        current = start + timedelta(days=index)
        days_ago = (anchor - current).days
        events, festival_volume, strain, promo = _festivals(current)
        progress = index / (WINDOW_DAYS - 1)
        volume = (1.0 + 0.35 * progress) * WEEKDAY_VOLUME[current.weekday()] * festival_volume
        volume *= math.exp(rng.gauss(0.0, 0.07))
        heat = {7: 1.0, 8: 0.9, 6: 0.3, 9: 0.3}.get(current.month, 0.0)
        day = Day(
            date=current, index=index, volume=volume, events=events,
            delivery_crisis=_ramp(days_ago, 235, 221, 170, 145),
            peak_strain=strain,
            app_outage=_ramp(days_ago, 80, 79, 70, 59),
            heat=heat, promo=promo, progress=progress,
        )
        if day.delivery_crisis > 0:
            day.events.add("delivery_crisis")
        if day.app_outage > 0:
            day.events.add("app_outage")
        days.append(day)
    return days


def touchpoint_weights(days: list[Day], *, follows_delivery_trouble: bool) -> list[float]:
    """Touchpoint surveys follow order volume; customer-service contacts also rise with
    delivery trouble (people call when the parcel is late)."""
    weights = []
    for day in days:
        weight = day.volume
        if follows_delivery_trouble:
            weight *= 1.0 + 0.9 * day.delivery_crisis + 0.6 * day.peak_strain + 0.4 * day.app_outage
        weights.append(weight)
    return weights


def wave_weights(days: list[Day], starts: list[date], length: int, decay: float) -> list[float]:
    """Campaign surveys: answers arrive in waves after each send date, fading by `decay` days."""
    weights = [0.0] * len(days)
    for day in days:
        for start in starts:
            offset = (day.date - start).days
            if 0 <= offset < length:
                weights[day.index] += math.exp(-offset / decay) * WEEKDAY_VOLUME[day.date.weekday()]
    return weights


def quarterly_sends(days: list[Day]) -> list[date]:
    """The relationship survey goes out on the second Tuesday of every calendar quarter."""
    sends = []
    for year in range(days[0].date.year - 1, days[-1].date.year + 1):
        for month in (1, 4, 7, 10):
            first = date(year, month, 8)
            sends.append(first + timedelta(days=(1 - first.weekday()) % 7))
    return sends


def half_year_sends(days: list[Day]) -> list[date]:
    """The strategic benchmark runs twice a year, in March and September."""
    return [date(year, month, 10) for year in range(days[0].date.year - 1, days[-1].date.year + 1)
            for month in (3, 9)]


def allocate(total: int, weights: list[float]) -> list[int]:
    """Splits `total` over the days in proportion to `weights` (largest remainder, exact)."""
    weight_sum = sum(weights)
    if total <= 0 or weight_sum <= 0:
        return [0] * len(weights)
    shares = [total * w / weight_sum for w in weights]
    counts = [int(s) for s in shares]
    order = sorted(range(len(weights)), key=lambda i: (counts[i] - shares[i], i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def local_moment(day: date, rng: random.Random, tz: ZoneInfo) -> datetime:
    """A plausible local time on `day`, returned in UTC at whole seconds."""
    hour = rng.choices(HOURS, cum_weights=HOUR_CUMULATIVE)[0]
    local = datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)), tzinfo=tz)
    return local.astimezone(UTC)
