"""The demo workspace shows dashboards and a digest whose numbers are the statistics
module's: every demo widget answers, the scorecard equals service.nps under the dashboard's
filters, and the digest preview's headline equals trends.period_change."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

from npsloop.analytics import service, trends
from npsloop.demo.seed import seed_demo
from npsloop.reports import service as reports
from npsloop.reports.digest_api import latest_period
from npsloop.reports.models import Dashboard, Digest

TODAY = date(2026, 11, 26)


def test_demo_dashboards_and_digest_match_the_statistics(db_factory, client):
    info = seed_demo(db_factory, responses=600, today=TODAY, analyse_text=False)
    headers = {"Authorization": f"Bearer {info['api_key']}"}
    org_id, tz = info["org_id"], "Asia/Shanghai"
    items = client.get("/api/v1/dashboards", headers=headers).json()["items"]
    assert len(items) == 2 and all(d["widget_count"] >= 4 for d in items)
    with db_factory() as session:
        for dashboard in session.query(Dashboard).filter(Dashboard.org_id == org_id):
            filters = reports.effective_filters(session, org_id, tz, dashboard.filters)
            for widget in dashboard.widgets:
                url = f"/api/v1/dashboards/{dashboard.id}/widgets/{widget.id}/data"
                answer = client.get(url, headers=headers)
                assert answer.status_code == 200, (widget.kind, answer.text)
                if widget.kind == "scorecard":
                    expected = service.nps(session, org_id=org_id, filters=filters)
                    assert answer.json()["data"]["nps"]["nps"] == expected.nps
                    assert answer.json()["data"]["nps"]["n"] == expected.n > 0
        digest = session.query(Digest).filter(Digest.org_id == org_id).one()
        period = latest_period(digest, tz)
        base = reports.effective_filters(session, org_id, tz, digest.filters)
        change = trends.period_change(session, org_id=org_id, min_n=30, filters=replace(
            base, date_from=period.start, date_to=period.end))
    preview = client.get(f"/api/v1/digests/{digest.id}/preview", headers=headers)
    assert preview.status_code == 200
    assert change is not None
    shown = re.search(r'data-digest="nps"[^>]*>([^<]+)<', preview.text).group(1)
    assert shown == ("—" if change.current.nps is None else f"{change.current.nps:.1f}")
