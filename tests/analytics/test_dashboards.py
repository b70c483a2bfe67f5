"""User-made dashboards: CRUD, roles, tenant scope, input errors, and every widget's numbers
equal to the statistics module (stats.summarize / trends / crosstab) on the same data."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from npsloop.accounts.models import Role
from npsloop.analytics import service, trends
from npsloop.analytics.filters import Filters, parse_filters
from npsloop.analytics.stats import compare, summarize
from tests.analytics.helpers import add_scores, counts_scores

OCT = datetime(2026, 10, 12, 4, tzinfo=UTC)
NOV = datetime(2026, 11, 10, 4, tzinfo=UTC)


def _survey(client, org, name, nps_type, stage="", touchpoint=""):
    body = {"name": name, "status": "live", "nps_type": nps_type, "journey_stage": stage,
            "touchpoint": touchpoint, "drivers": []}
    response = client.post("/api/v1/surveys", json=body, headers=org.headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


@pytest.fixture
def data(client, db, org):
    """Relationship and two touchpoint surveys; October then November, app and web."""
    rel = _survey(client, org, "Relationship", "relationship")
    checkout = _survey(client, org, "Checkout", "touchpoint", "purchase", "checkout")
    courier = _survey(client, org, "Courier", "touchpoint", "delivery", "courier")
    add_scores(db, org.org_id, rel, counts_scores(40, 20, 20), at=OCT, channel="app")
    add_scores(db, org.org_id, rel, counts_scores(60, 10, 10), at=NOV, channel="app")
    add_scores(db, org.org_id, checkout, counts_scores(30, 10, 10), at=OCT, channel="web")
    add_scores(db, org.org_id, checkout, counts_scores(10, 10, 30), at=NOV, channel="web")
    add_scores(db, org.org_id, courier, counts_scores(20, 5, 5), at=NOV, channel="app")
    return {"rel": rel, "checkout": checkout, "courier": courier}


WIDGETS = [
    {"kind": "scorecard", "title": "NPS"},
    {"kind": "trend", "options": {"bucket": "month"}},
    {"kind": "nps_by", "options": {"group_by": "touchpoint"}},
    {"kind": "crosstab", "options": {"rows": "touchpoint", "cols": "channel"}},
    {"kind": "distribution", "options": {"by": "channel"}},
    {"kind": "movers", "options": {"dimensions": ["touchpoint", "channel"]}},
    {"kind": "journey"},
    {"kind": "comments", "options": {"limit": 3}},
    {"kind": "drivers"},
]


def _create(client, org, **extra):
    body = {"name": "Ops weekly", "filters": {"from": "2026-11-01", "to": "2026-11-30"},
            "widgets": WIDGETS, **extra}
    response = client.post("/api/v1/dashboards", json=body, headers=org.headers)
    assert response.status_code == 201, response.text
    return response.json()


def _data(client, org, dashboard, index, **params):
    widget = dashboard["widgets"][index]
    response = client.get(f"/api/v1/dashboards/{dashboard['id']}/widgets/{widget['id']}/data",
                          headers=org.headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def _filters(org, **params):
    return parse_filters({k: [v] for k, v in params.items()}, "Asia/Shanghai")


def test_widget_numbers_match_the_statistics_module(client, db, org, data):
    dashboard = _create(client, org)
    assert [w["kind"] for w in dashboard["widgets"]] == [w["kind"] for w in WIDGETS]
    november = _filters(org, **{"from": "2026-11-01", "to": "2026-11-30"})

    card = _data(client, org, dashboard, 0)
    expected = summarize(60 + 10 + 20, 10 + 10 + 5, 10 + 30 + 5)
    assert expected == service.nps(db, org_id=org.org_id, filters=november)
    assert card["nps"]["nps"] == expected.nps and card["nps"]["n"] == expected.n
    assert card["nps"]["margin_of_error"] == expected.margin_of_error
    october_total = summarize(40 + 30, 20 + 10, 20 + 10)
    change = compare(october_total, expected)
    # 1 November - 30 November against the 30 days before it: 2 October - 31 October.
    assert card["change"]["previous"]["n"] == october_total.n
    assert card["change"]["difference"] == change.difference
    assert card["change"]["significant"] == change.significant

    trend = _data(client, org, dashboard, 1)
    reference = trends.trend(db, org_id=org.org_id, filters=november, bucket="month",
                             tz="Asia/Shanghai")
    assert [(p["key"], p["nps"], p["n"]) for p in trend["points"]] == [
        (p.key, p.summary.nps, p.summary.n) for p in reference.points]

    by_touchpoint = {g["key"]: g for g in _data(client, org, dashboard, 2)["groups"]}
    assert by_touchpoint["checkout"]["nps"] == summarize(10, 10, 30).nps
    assert by_touchpoint["courier"]["nps"] == summarize(20, 5, 5).nps
    assert None not in by_touchpoint or by_touchpoint[None]["n"] == 90

    table = _data(client, org, dashboard, 3)
    cells = {(c["row"], c["col"]): c for c in table["cells"]}
    assert cells[("checkout", "web")]["nps"] == summarize(10, 10, 30).nps
    assert table["total"]["nps"] == expected.nps

    distribution = {g["key"]: g for g in _data(client, org, dashboard, 4)["groups"]}
    assert distribution["app"]["nps"] == summarize(80, 15, 15).nps

    movers = _data(client, org, dashboard, 5)
    moved = {(m["dimension"], m["key"]): m for m in movers["movers"]}
    checkout_change = compare(summarize(30, 10, 10), summarize(10, 10, 30))
    assert checkout_change.significant
    assert moved[("touchpoint", "checkout")]["difference"] == checkout_change.difference
    assert moved[("touchpoint", "checkout")]["z"] == checkout_change.z
    # Courier had no answers in October: nothing to compare, not a mover.
    assert ("touchpoint", "courier") not in moved

    journey = _data(client, org, dashboard, 6)
    stages = {s["name"]: s for s in journey["stages"]}
    assert stages["delivery"]["nps"] == summarize(20, 5, 5).nps
    assert len(_data(client, org, dashboard, 7)["comments"]) == 0
    assert "drivers" in _data(client, org, dashboard, 8)

    # Query filters narrow the saved ones (a shareable view of the same dashboard).
    narrowed = _data(client, org, dashboard, 0, channel="web")
    assert narrowed["nps"]["nps"] == summarize(10, 10, 30).nps


def test_relative_period_and_filter_errors(client, org):
    bad = client.post("/api/v1/dashboards", headers=org.headers, json={
        "name": "x", "filters": {"chanel": "app"}})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == [
        "body", "filters", "chanel"]
    bad = client.post("/api/v1/dashboards", headers=org.headers, json={
        "name": "x", "filters": {"period": "5y"}})
    assert bad.json()["detail"][0]["loc"] == ["body", "filters", "period"]
    bad = client.post("/api/v1/dashboards", headers=org.headers, json={
        "name": "x", "widgets": [{"kind": "nps_by", "options": {"group_by": "colour"}}]})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "widgets", "0", "options", "group_by"]
    bad = client.post("/api/v1/dashboards", headers=org.headers, json={
        "name": "x", "widgets": [{"kind": "pie"}]})
    assert bad.json()["detail"][0]["loc"] == ["body", "widgets", "0", "kind"]
    bad = client.post("/api/v1/dashboards", headers=org.headers, json={"name": " "})
    assert bad.json()["detail"][0]["loc"] == ["body", "name"]
    made = client.post("/api/v1/dashboards", headers=org.headers, json={
        "name": "Last year", "filters": {"period": "12m", "channel": "app"},
        "widgets": [{"kind": "scorecard"}]})
    assert made.status_code == 201, made.text
    assert made.json()["filters"] == {"channel": "app", "period": "12m"}


def test_edit_reorder_remove_and_roles(client, db, org, make_org, role_key):
    dashboard = _create(client, org)
    ids = [w["id"] for w in dashboard["widgets"]]
    path = f"/api/v1/dashboards/{dashboard['id']}"
    # Reorder: the last two swap, the first goes away, one new widget is appended.
    widgets = [{"id": ids[i], **WIDGETS[i]} for i in range(1, len(ids))]
    widgets[-1], widgets[-2] = widgets[-2], widgets[-1]
    widgets.append({"kind": "nps_by", "options": {"group_by": "channel"}, "width": 12})
    response = client.put(path, headers=org.headers,
                          json={"name": "Renamed", "widgets": widgets, "shared": False})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "Renamed" and body["shared"] is False
    assert [w["id"] for w in body["widgets"][:-1]] == [w["id"] for w in widgets[:-1]]
    assert body["widgets"][-1]["width"] == 12 and ids[0] not in [w["id"] for w in
                                                                  body["widgets"]]
    added = client.post(f"{path}/widgets", headers=org.headers, json={"kind": "scorecard"})
    assert added.status_code == 201
    assert client.delete(f"{path}/widgets/{added.json()['id']}",
                         headers=org.headers).status_code == 204
    assert client.delete(f"{path}/widgets/nope", headers=org.headers).status_code == 404

    viewer = role_key(org.org_id, Role.viewer)
    analyst = role_key(org.org_id, Role.analyst)
    assert client.get(path, headers=viewer).status_code == 200
    assert client.put(path, headers=viewer, json={"name": "no"}).status_code == 403
    assert client.post("/api/v1/dashboards", headers=viewer,
                       json={"name": "no"}).status_code == 403
    assert client.put(path, headers=analyst, json={"name": "Analyst's"}).status_code == 200

    other = make_org("Other")
    assert client.get(path, headers=other.headers).status_code == 404
    assert client.get("/api/v1/dashboards", headers=other.headers).json()["items"] == []
    widget_id = body["widgets"][0]["id"]
    assert client.get(f"{path}/widgets/{widget_id}/data",
                      headers=other.headers).status_code == 404
    assert client.delete(path, headers=other.headers).status_code == 404
    assert client.delete(path, headers=org.headers).status_code == 204
    assert client.get(path, headers=org.headers).status_code == 404


def test_private_dashboards_are_their_owners(db, org, make_user):
    from npsloop.reports import service as reports
    from npsloop.reports.models import Dashboard

    analyst = make_user(org.org_id, Role.analyst)
    from sqlalchemy import select

    from npsloop.accounts.models import User

    analyst_id = db.scalar(select(User.id).where(User.email == analyst))
    mine = reports.Viewer(org.org_id, "analyst", analyst_id, analyst)
    theirs = reports.Viewer(org.org_id, "owner", "someone-else", "x@example.test")
    private = reports.save_dashboard(db, mine, "Asia/Shanghai",
                                     {"name": "Mine", "shared": False})
    db.commit()
    assert isinstance(private, Dashboard)
    assert reports.get_dashboard(db, mine, private.id) is not None
    assert reports.get_dashboard(db, theirs, private.id) is None
    assert private.id not in [d.id for d in reports.list_dashboards(db, theirs)]


def test_filters_dataclass_roundtrip():
    # Saved pairs are exactly parse_filters' normalised query.
    parsed = parse_filters({"channel": ["app"], "tag": ["a", "b"]}, "UTC")
    assert isinstance(parsed, Filters) and parsed.query == [("channel", "app"), ("tag", "a"),
                                                            ("tag", "b")]
