"""The digest as display values (translated labels, formatted numbers, bar widths), shared by
the HTML email and the PDF so both say exactly the same thing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from npsloop.analytics.stats import NpsSummary
from npsloop.reports.content import DigestContent

NPS_GOOD, NPS_FAIR = 30.0, 0.0
COLOURS = {"good": "#15803d", "fair": "#b45309", "poor": "#b91c1c", "none": "#6b7280"}
MAX_STAGE_ROWS = 12


def fmt_nps(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def fmt_signed(value: float | None) -> str:
    return "—" if value is None else f"{value:+.1f}"


def tone(value: float | None) -> str:
    if value is None:
        return "none"
    return "good" if value >= NPS_GOOD else ("fair" if value >= NPS_FAIR else "poor")


def bar(value: float | None) -> float:
    """An NPS (-100..100) as a bar length in percent of the -100..100 scale's half."""
    return 0.0 if value is None else round(min(abs(value), 100.0), 1)


def bucket_label(key: str, bucket: str) -> str:
    """'2026-04-01' as '2026 Q2' (quarters) or '2026-04' (months)."""
    if bucket == "quarter":
        return f"{key[:4]} Q{(int(key[5:7]) - 1) // 3 + 1}"
    return key[:7]


def leading_empty_dropped(points: list[Any]) -> list[Any]:
    """The trend from its first answered bucket (the window may start before the data)."""
    for index, point in enumerate(points):
        if point.summary.n:
            return points[index:]
    return []


@dataclass(frozen=True)
class Row:
    label: str
    nps: float | None
    n: int
    margin: float | None
    too_few: bool

    @property
    def colour(self) -> str:
        return COLOURS[tone(self.nps)]

    @property
    def text(self) -> str:
        return fmt_nps(self.nps)


def row(label: str, summary: NpsSummary) -> Row:
    return Row(label, summary.nps, summary.n, summary.margin_of_error, summary.too_few)


def display(content: DigestContent) -> dict[str, Any]:
    t = content.t()
    head = content.headline
    change = head.change
    direction = "flat"
    if change.difference:
        direction = "up" if change.difference > 0 else "down"
    view = content.overview
    rate = view.response_rate
    movers = [
        {
            "label": " = ".join([m.label, *(label for _, label in m.aliases)]),
            "dimension": " = ".join(t(f"reports.dimension.{d}") for d in
                                    [m.dimension, *(d for d, _ in m.aliases)]),
            "previous": fmt_nps(m.previous.nps), "current": fmt_nps(m.current.nps),
            "difference": fmt_signed(m.change.difference), "direction": m.direction,
            "colour": COLOURS["good"] if m.direction == "up" else COLOURS["poor"],
            "n": m.current.n, "previous_n": m.previous.n,
            "p": "<0.001" if (m.change.p_value or 0) < 0.001 else f"{m.change.p_value:.3f}",
        }
        for m in view.movers.movers
    ]
    return {
        "title": t(f"reports.digest.title_{content.frequency}", org=content.org_name),
        "period": content.period_label,
        "lang": content.language,
        "t": t,
        "headline": {
            "nps": fmt_nps(head.current.nps), "margin": fmt_nps(head.current.margin_of_error),
            "n": head.current.n, "colour": COLOURS[tone(head.current.nps)],
            "previous": fmt_nps(head.previous.nps), "previous_n": head.previous.n,
            "difference": fmt_signed(change.difference), "direction": direction,
            "significant": change.significant, "too_few": head.current.too_few,
            "promoters": head.current.promoter_share, "passives": head.current.passive_share,
            "detractors": head.current.detractor_share,
        },
        "trend": [row(bucket_label(p.key, content.trend_bucket), p.summary)
                  for p in leading_empty_dropped(view.relationship.points)],
        "trend_bucket": content.trend_bucket,
        "stages": [row(f"{s.stage} · {s.touchpoint}" if s.touchpoint else s.stage, s.summary)
                   for s in view.stages[:MAX_STAGE_ROWS]],
        "volume": view.volume,
        "response_rate": {
            "source": rate.source, "invited": rate.invited, "responded": rate.responded,
            "rate": None if rate.rate is None else f"{rate.rate * 100:.1f}%",
        },
        "movers": movers,
        "tested": view.movers.tested,
        "fmt_nps": fmt_nps, "bar": bar,
    }
