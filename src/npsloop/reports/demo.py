"""Demo workspace: two dashboards made from the widget catalogue and a weekly digest (no
email channel in the demo, so it is previewed and downloaded rather than sent)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from npsloop.accounts.models import Organization, User
from npsloop.reports import digests, service
from npsloop.reports.models import Dashboard

DASHBOARDS: list[dict[str, Any]] = [
    {
        "name": "运营周看板 · Operations weekly",
        "description": "近 90 天:整体 NPS、趋势、触点、显著变化与最新评论。",
        "filters": {"period": "90d"},
        "widgets": [
            {"kind": "scorecard", "title": "整体 NPS"},
            {"kind": "trend", "options": {"bucket": "week", "rolling": 4}},
            {"kind": "nps_by", "options": {"group_by": "touchpoint"}},
            {"kind": "movers", "options": {"dimensions": ["touchpoint", "journey_stage",
                                                          "channel", "topic"]}},
            {"kind": "journey"},
            {"kind": "comments", "options": {"limit": 6}},
        ],
    },
    {
        "name": "Delivery via the in-app widget",
        "description": "Last 12 months: after-delivery answers given in the app's widget.",
        "filters": {"period": "12m", "channel": "widget", "touchpoint": "delivery"},
        "widgets": [
            {"kind": "scorecard"},
            {"kind": "distribution", "options": {"by": "language"}, "width": 8},
            {"kind": "crosstab", "options": {"rows": "lifecycle_stage", "cols": "quarter"}},
            {"kind": "drivers"},
        ],
    },
]


def seed_demo_reports(session: Session, org_id: str) -> dict[str, int]:
    if session.scalar(select(Dashboard.id).where(Dashboard.org_id == org_id)):
        return {"dashboards": 0, "digests": 0}
    org = session.get(Organization, org_id)
    tz = org.timezone if org else "Asia/Shanghai"
    owner = session.scalars(select(User).where(User.org_id == org_id, User.role == "owner")
                            ).first()
    viewer = service.Viewer(org_id, "owner", owner.id if owner else None,
                            owner.email if owner else "npsloop demo")
    for body in DASHBOARDS:
        service.save_dashboard(session, viewer, tz, body)
    digests.save_digest(session, org_id, {
        "name": "每周 NPS 简报", "frequency": "weekly", "weekday": 0, "hour": 9,
        "language": "zh-CN", "recipients": ["cx-team@freshgo.example"],
    })
    session.flush()
    return {"dashboards": len(DASHBOARDS), "digests": 1}
