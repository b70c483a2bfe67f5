"""Significant movers: the segments, touchpoints and topics whose NPS changed significantly
from the previous period to the current one.

The current period is the filtered range; the previous one is the range of the same length
just before it (as in trends.period_change). Each group's change is tested with
trends.honest_change (the stats.compare z-test, counted significant only when both sides
have at least `min_n` responses): the dashboard, the dashboard widgets and the digest all
call `movers()`, so they can never disagree about what moved.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from npsloop.analytics import service
from npsloop.analytics.filters import Filters, apply_filters, resolve_segment
from npsloop.analytics.stats import NpsCounts, NpsDifference, NpsSummary
from npsloop.analytics.trends import honest_change
from npsloop.core.db import utcnow
from npsloop.responses.models import Response

# What can move: survey-level dimensions, response dimensions, and text-mining topics.
MOVER_DIMENSIONS = ("touchpoint", "journey_stage", "survey", "channel", "language",
                    "lifecycle_stage", "segment", "topic")
DEFAULT_DIMENSIONS = ("touchpoint", "journey_stage", "channel", "segment", "topic")
# Saved contact segments compared per report (two aggregates each), most recent first.
MAX_SEGMENTS = 20
DEFAULT_DAYS = 30


class MoverError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Mover:
    dimension: str
    key: str
    label: str
    previous: NpsSummary
    current: NpsSummary
    change: NpsDifference
    # Other groups made of exactly the same responses (a stage with a single touchpoint):
    # listed once, with the others named here as (dimension, label).
    aliases: tuple[tuple[str, str], ...] = ()

    @property
    def direction(self) -> str:
        diff = self.change.difference or 0.0
        return "up" if diff > 0 else ("down" if diff < 0 else "flat")


@dataclass(frozen=True)
class MoverReport:
    current_from: datetime
    current_to: datetime
    previous_from: datetime
    previous_to: datetime
    # Every group tested (for "n groups compared"), and the significant ones by |z|.
    tested: int
    movers: list[Mover]


def periods(filters: Filters, *, now: datetime | None = None,
            days: int = DEFAULT_DAYS) -> tuple[Filters, Filters]:
    """(current, previous) filters. Without a complete date range the current period is the
    last `days` days up to now."""
    if filters.date_from is not None and filters.date_to is not None:
        start, end = filters.date_from, filters.date_to
    else:
        end = filters.date_to or (now or utcnow())
        start = filters.date_from or end - timedelta(days=days)
    length = end - start
    current = replace(filters, date_from=start, date_to=end)
    previous = replace(filters, date_from=start - length, date_to=start)
    return current, previous


def _topic_counts(session: Session, org_id: str, filters: Filters, lang: str
                  ) -> dict[str, tuple[str, NpsCounts]]:
    """Counts per text-mining topic key (a response may raise several topics)."""
    try:
        from npsloop.textmining.models import ResponseTextTopic, TextTopic
    except ImportError:
        return {}
    name_column = TextTopic.name_zh if lang == "zh-CN" else TextTopic.name_en
    query = apply_filters(
        select(TextTopic.key, name_column.label("name"), *service._counts())
        .select_from(Response)
        .join(ResponseTextTopic, ResponseTextTopic.response_id == Response.id)
        .join(TextTopic, TextTopic.id == ResponseTextTopic.topic_id),
        org_id, filters,
    ).group_by(TextTopic.key, name_column)
    return {
        row.key: (row.name or row.key, NpsCounts(int(row.promoters or 0),
                                                 int(row.passives or 0),
                                                 int(row.detractors or 0)))
        for row in session.execute(query)
    }


def _segment_summaries(session: Session, org_id: str, filters: Filters, min_n: int
                       ) -> dict[str, tuple[str, NpsSummary]]:
    """NPS of the responses of each saved contact segment (analytics.filters' segment
    filter, the same one every statistics URL takes as `segment=`)."""
    try:
        from npsloop.contacts.models import Segment
    except ImportError:
        return {}
    segments = session.execute(
        select(Segment.id, Segment.name).where(Segment.org_id == org_id)
        .order_by(Segment.created_at.desc()).limit(MAX_SEGMENTS)).all()
    out: dict[str, tuple[str, NpsSummary]] = {}
    for segment_id, name in segments:
        scoped = replace(filters, segment_id=segment_id, segment_clause=None)
        try:
            resolve_segment(session, org_id, scoped)
        except (LookupError, ValueError):
            continue  # a rule that no longer resolves is not a mover
        out[segment_id] = (name, service.nps(session, org_id=org_id, filters=scoped,
                                             min_n=min_n))
    return out


def group_summaries(session: Session, *, org_id: str, filters: Filters, dimension: str,
                    tz: str, min_n: int, lang: str = "en"
                    ) -> dict[str, tuple[str, NpsSummary]]:
    """key -> (label, summary) of one dimension, from analytics.service.nps_by (or the topic
    join); groups without a key (no touchpoint, no channel) are left out."""
    if dimension == "segment":
        return _segment_summaries(session, org_id, filters, min_n)
    if dimension == "topic":
        return {key: (label, counts.summary(min_n)) for key, (label, counts)
                in _topic_counts(session, org_id, filters, lang).items()}
    rows = service.nps_by(session, org_id=org_id, filters=filters, group_by=dimension, tz=tz,
                          min_n=min_n)
    return {str(key): (str(key), summary) for key, summary in rows if key not in (None, "")}


DIMENSION_RANK = {name: rank for rank, name in enumerate(MOVER_DIMENSIONS)}


def _signature(mover: Mover) -> tuple[Any, ...]:
    return (mover.previous.promoters, mover.previous.passives, mover.previous.detractors,
            mover.current.promoters, mover.current.passives, mover.current.detractors)


def merge_identical(found: list[Mover]) -> list[Mover]:
    """One entry per distinct set of responses: a journey stage with one touchpoint moves
    exactly as that touchpoint does, and listing both would count one change twice."""
    merged: dict[tuple[Any, ...], Mover] = {}
    for mover in found:
        key = _signature(mover)
        first = merged.get(key)
        if first is None:
            merged[key] = mover
        else:
            merged[key] = replace(first, aliases=(*first.aliases,
                                                  (mover.dimension, mover.label)))
    return list(merged.values())


def movers(
    session: Session, *, org_id: str, filters: Filters, tz: str, min_n: int = 30,
    dimensions: tuple[str, ...] | list[str] = DEFAULT_DIMENSIONS, lang: str = "en",
    limit: int = 10, now: datetime | None = None,
) -> MoverReport:
    for name in dimensions:
        if name not in MOVER_DIMENSIONS:
            raise MoverError("dimensions", f"'{name}' is not one of {', '.join(MOVER_DIMENSIONS)}")
    current_filters, previous_filters = periods(filters, now=now)
    found: list[Mover] = []
    tested = 0
    for name in dimensions:
        current = group_summaries(session, org_id=org_id, filters=current_filters,
                                  dimension=name, tz=tz, min_n=min_n, lang=lang)
        previous = group_summaries(session, org_id=org_id, filters=previous_filters,
                                   dimension=name, tz=tz, min_n=min_n, lang=lang)
        for key, (label, now_summary) in current.items():
            before = previous.get(key)
            if before is None:
                continue
            tested += 1
            change = honest_change(before[1], now_summary)
            if change.significant:
                found.append(Mover(name, key, label, before[1], now_summary, change))
    found.sort(key=lambda m: (-abs(m.change.z or 0.0), DIMENSION_RANK.get(m.dimension, 99),
                              m.key))
    found = merge_identical(found)
    return MoverReport(
        current_from=current_filters.date_from,  # type: ignore[arg-type]
        current_to=current_filters.date_to,  # type: ignore[arg-type]
        previous_from=previous_filters.date_from,  # type: ignore[arg-type]
        previous_to=previous_filters.date_to,  # type: ignore[arg-type]
        tested=tested, movers=found[:limit],
    )


def mover_dict(mover: Mover) -> dict[str, Any]:
    return {
        "dimension": mover.dimension, "key": mover.key, "label": mover.label,
        "direction": mover.direction,
        "previous": {"nps": mover.previous.nps, "n": mover.previous.n,
                     "margin_of_error": mover.previous.margin_of_error},
        "current": {"nps": mover.current.nps, "n": mover.current.n,
                    "margin_of_error": mover.current.margin_of_error},
        "difference": mover.change.difference, "z": mover.change.z,
        "p_value": mover.change.p_value,
        "same_as": [{"dimension": d, "label": label} for d, label in mover.aliases],
    }


def report_dict(report: MoverReport) -> dict[str, Any]:
    return {
        "current_from": report.current_from.isoformat(),
        "current_to": report.current_to.isoformat(),
        "previous_from": report.previous_from.isoformat(),
        "previous_to": report.previous_to.isoformat(),
        "tested": report.tested,
        "movers": [mover_dict(m) for m in report.movers],
    }
