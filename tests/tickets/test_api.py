"""Rules, teams and tickets over HTTP: dry run, reference checks, organisation isolation
(404) and roles (agents work tickets, viewers cannot, only owners/admins manage rules)."""

from __future__ import annotations

from sqlalchemy import func, select

from npsloop.tickets.models import RuleMatch, Ticket

from .conftest import drain, make_rule, make_team, post_response

DETRACTOR = [{"field": "category", "values": ["detractor"]}]


def test_dry_run_saved_and_unsaved(client, org, survey, db, db_factory):
    for score, comment in ((1, "快递太慢了"), (2, "价格太贵"), (9, "很好"), (5, "")):
        post_response(client, org, survey["id"], score, comment)
    drain(db_factory)  # no rules yet: analyses only
    unsaved = {"name": "delivery", "conditions": [
        *DETRACTOR, {"field": "topic", "values": ["delivery"]}], "actions": {"ticket": {}}}
    r = client.post("/api/v1/rules/dry-run", json=unsaved, headers=org.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["scanned"], body["matched"], body["without_analysis"]) == (4, 1, 0)
    assert body["items"][0]["comment"] == "快递太慢了"
    assert "delivery" in body["items"][0]["topics"]
    rule = make_rule(client, org, DETRACTOR, {"ticket": {}})
    r = client.post(f"/api/v1/rules/{rule['id']}/dry-run", headers=org.headers)
    assert r.json()["matched"] == 3
    # A dry run writes nothing: no ticket, no match row, no routing turn.
    assert db.scalar(select(func.count()).select_from(Ticket)
                     .where(Ticket.org_id == org.org_id)) == 0
    assert db.scalar(select(func.count()).select_from(RuleMatch)
                     .where(RuleMatch.org_id == org.org_id)) == 0
    bad = {**unsaved, "conditions": [{"field": "score", "min": 11}]}
    r = client.post("/api/v1/rules/dry-run", json=bad, headers=org.headers)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][:3] == [
        "body", "conditions", 0]


def test_rules_refuse_ids_of_other_organisations(client, org, make_org, survey, db):
    other = make_org("Other")
    foreign = make_team(client, other, "theirs")
    r = client.post("/api/v1/rules", headers=org.headers, json={
        "name": "x", "conditions": DETRACTOR,
        "actions": {"ticket": {"routing": {"mode": "round_robin", "team_id": foreign["id"]}}}})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "actions", "ticket", "routing", "team_id"]
    r = client.post("/api/v1/rules", headers=org.headers, json={
        "name": "x", "conditions": [{"field": "survey", "values": ["nope"]}],
        "actions": {"tags": ["t"]}})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][:3] == [
        "body", "conditions", "0"]
    r = client.post("/api/v1/rules", headers=org.headers, json={
        "name": "x", "conditions": DETRACTOR, "actions": {"notify_channel_ids": ["nope"]}})
    assert r.status_code == 422
    r = client.patch(f"/api/v1/rules/{'0' * 32}", json={"enabled": False}, headers=org.headers)
    assert r.status_code == 404


def test_org_isolation_is_404(client, org, make_org, survey, db, db_factory):
    other = make_org("Other")
    rule = make_rule(client, org, DETRACTOR, {"ticket": {}})
    team = make_team(client, org, "mine")
    post_response(client, org, survey["id"], 1, "bad")
    drain(db_factory)
    ticket_id = db.scalar(select(Ticket.id).where(Ticket.org_id == org.org_id))
    h = other.headers
    for method, url, body in (
        ("get", f"/api/v1/tickets/{ticket_id}", None),
        ("patch", f"/api/v1/tickets/{ticket_id}", {"status": "in_progress"}),
        ("post", f"/api/v1/tickets/{ticket_id}/comments", {"body": "x"}),
        ("post", f"/api/v1/tickets/{ticket_id}/replies", {"channel_id": "x", "body": "x"}),
        ("get", f"/api/v1/rules/{rule['id']}", None),
        ("patch", f"/api/v1/rules/{rule['id']}", {"enabled": False}),
        ("delete", f"/api/v1/rules/{rule['id']}", None),
        ("post", f"/api/v1/rules/{rule['id']}/dry-run", None),
        ("get", f"/api/v1/teams/{team['id']}", None),
        ("patch", f"/api/v1/teams/{team['id']}", {"name": "x"}),
    ):
        r = client.request(method, url, json=body, headers=h)
        assert r.status_code == 404, (method, url, r.status_code)
    assert client.get("/api/v1/tickets", headers=h).json()["total"] == 0
    assert client.get("/api/v1/rules", headers=h).json() == []
    r = client.post("/api/v1/tickets/bulk", headers=h, json={
        "ticket_ids": [ticket_id], "action": "close"})
    assert r.json()["errors"][0]["error"] == "not found"
    assert client.get("/api/v1/tickets/metrics", headers=h).json()["overall"]["opened"] == 0
    db.expire_all()
    assert db.get(Ticket, ticket_id).status == "open"


def test_roles(client, org, survey, db, db_factory, role_key):
    make_rule(client, org, DETRACTOR, {"ticket": {}})
    post_response(client, org, survey["id"], 1, "bad")
    drain(db_factory)
    ticket_id = db.scalar(select(Ticket.id).where(Ticket.org_id == org.org_id))
    agent, viewer, analyst = (role_key(org.org_id, r) for r in ("agent", "viewer", "analyst"))
    # Agents work tickets.
    assert client.get("/api/v1/tickets", headers=agent).status_code == 200
    r = client.patch(f"/api/v1/tickets/{ticket_id}", json={"status": "in_progress"},
                     headers=agent)
    assert r.status_code == 200
    assert client.post(f"/api/v1/tickets/{ticket_id}/comments", json={"body": "ok"},
                       headers=agent).status_code == 201
    # Viewers and analysts do not.
    for headers in (viewer, analyst):
        assert client.get("/api/v1/tickets", headers=headers).status_code == 403
        assert client.get(f"/api/v1/tickets/{ticket_id}", headers=headers).status_code == 403
        assert client.patch(f"/api/v1/tickets/{ticket_id}", json={"status": "resolved"},
                            headers=headers).status_code == 403
    # Everyone reads the metrics; only owners/admins manage rules.
    assert client.get("/api/v1/tickets/metrics", headers=viewer).status_code == 200
    body = {"name": "x", "conditions": DETRACTOR, "actions": {"tags": ["x"]}}
    assert client.post("/api/v1/rules", json=body, headers=agent).status_code == 403
    assert client.get("/api/v1/rules", headers=agent).status_code == 200
    assert client.post("/api/v1/teams", json={"key": "k", "name": "K"},
                       headers=agent).status_code == 403
    assert client.get("/api/v1/tickets").status_code == 401


def test_inbox_filters_scopes_and_sort(client, org, survey, db, db_factory, agents):
    team = make_team(client, org, "logistics", agents[:1])
    make_rule(client, org, [{"field": "score", "max": 1}], {"ticket": {
        "priority": "P0", "routing": {"mode": "round_robin", "team_id": team["id"]}}},
        stop_processing=True)
    make_rule(client, org, DETRACTOR, {"ticket": {"priority": "P3"}})
    for score in (5, 0, 6):
        post_response(client, org, survey["id"], score, "x")
    drain(db_factory)
    items = client.get("/api/v1/tickets", headers=org.headers).json()["items"]
    # SLA risk: the P0 (1 h first response) comes first, then the P3 tickets by deadline.
    assert [i["priority"] for i in items] == ["P0", "P3", "P3"]
    ids = [i["id"] for i in items]
    client.patch(f"/api/v1/tickets/{ids[2]}", json={"status": "waiting_on_customer"},
                 headers=org.headers)
    q = {"sla": "paused"}
    got = client.get("/api/v1/tickets", params=q, headers=org.headers).json()
    assert [i["id"] for i in got["items"]] == [ids[2]]
    got = client.get("/api/v1/tickets", params={"priority": "P3", "status": "open"},
                     headers=org.headers).json()
    assert [i["id"] for i in got["items"]] == [ids[1]]
    got = client.get("/api/v1/tickets", params={"team_id": team["id"]},
                     headers=org.headers).json()
    assert got["total"] == 1 and got["items"][0]["owner_id"] == agents[0]
    got = client.get("/api/v1/tickets", params={"owner_id": "none"}, headers=org.headers)
    assert got.json()["total"] == 2
    got = client.get("/api/v1/tickets", params={"survey_id": survey["id"],
                                                "category": "detractor", "sla": "on_track"},
                     headers=org.headers)
    assert got.json()["total"] == 2
    for bad in ({"sla": "late"}, {"status": "nope"}, {"scope": "mine"}, {"sort": "x"}):
        r = client.get("/api/v1/tickets", params=bad, headers=org.headers)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"][0] == "query", bad
