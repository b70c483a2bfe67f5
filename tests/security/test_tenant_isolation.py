"""Tenant isolation, generated from the route table: for every route that addresses an object,
organisation B's credentials on organisation A's object get a 404 (or 403) and change nothing
of A's; every list and report B can read holds nothing of A's.

A route with a path parameter that PARAM_FACTORIES (world.py) cannot make fails this test
with the list of unmapped parameters; a route that is public by design is listed in PUBLIC
with the reason.
"""

from __future__ import annotations

from tests.security.conftest import login_session, org_snapshot
from tests.security.routes import RouteInfo, fill, route_table
from tests.security.world import PARAM_FACTORIES

# Reachable without credentials on purpose: the token or code in the path is the credential.
PUBLIC = {
    "GET /s/{token}": "public survey page, addressed by its unguessable token",
    "POST /s/{token}/responses": "public survey submission",
    "GET /s/{token}/thanks": "public thank-you page",
    "GET /r/{code}": "referral link a promoter shares",
    "GET /r/{code}/qr.png": "QR image of the referral link",
    "POST /r/{code}/shared": "share ping from the promoter's page",
    "GET /referral-invite/{token}/{response_id}": "promoter's own invitation (widget)",
    "GET /api/v1/referrals/codes/{code}": "resolves a code the caller already holds; checked "
                                          "separately below",
    "POST /hooks/sms/{channel_id}/{receipt_token}": "SMS vendors push delivery receipts; the "
                                                    "channel's secret token is the credential "
                                                    "(test_sms_receipts.py checks isolation)",
}

# A body that passes validation, so the call reaches the object lookup (a 422 would say
# nothing about isolation). Key: "METHOD path"; JSON for /api routes, form fields for pages.
BODIES: dict[str, dict] = {
    "POST /api/v1/plans/{plan_id}/tasks": {"title": "x"},
    "POST /api/v1/tickets/{ticket_id}/comments": {"body": "x"},
    "POST /api/v1/tickets/{ticket_id}/replies": {"channel_id": "{channel_id}", "body": "x"},
    "POST /api/v1/surveys/{survey_id}/responses": {"score": 5},
    "POST /api/v1/rules/{rule_id}/dry-run": {},
    "POST /contacts/{contact_id}/tags": {"tag": "x"},
    "POST /notify/channels/{channel_id}": {"name": "x"},
    "POST /plans/{plan_id}/edit": {"title": "x", "start_date": "2026-01-01",
                                   "link_kind": "survey", "link_value": "x"},
    "POST /plans/{plan_id}/tasks": {"title": "x"},
    "POST /surveys/{survey_id}": {"name": "x"},
    "POST /tickets/{ticket_id}": {"action": "comment", "body": "x"},
    "PUT /api/v1/trigger-rules/{trigger_id}": {"name": "x", "event_name": "e",
                                               "survey_id": "{survey_id}", "channel": "email"},
}


def _unmapped(routes: list[RouteInfo]) -> dict[str, list[str]]:
    return {r.id: [p for p in r.params if p not in PARAM_FACTORIES]
            for r in routes if r.id not in PUBLIC and any(p not in PARAM_FACTORIES
                                                          for p in r.params)}


def test_every_path_parameter_has_a_factory(app):
    unmapped = _unmapped(route_table(app))
    assert not unmapped, (
        "routes with path parameters the isolation test cannot fill; add a factory to "
        f"PARAM_FACTORIES in tests/security/world.py (or list the route in PUBLIC): {unmapped}")


def test_public_routes_are_really_public(app):
    routes = {r.id: r for r in route_table(app)}
    stale = [rid for rid in PUBLIC if rid not in routes]
    assert not stale, f"PUBLIC lists routes that no longer exist: {stale}"
    guarded = [rid for rid in PUBLIC if routes[rid].authenticated and "codes" not in rid]
    assert not guarded, f"PUBLIC lists routes that require a login: {guarded}"


def _body(route: RouteInfo, world) -> dict:
    """BODIES[route] with "{param}" values replaced by the world's object of that kind."""
    body = BODIES.get(route.id, {})
    return {k: world.get(v[1:-1]) if isinstance(v, str) and v.startswith("{") else v
            for k, v in body.items()}


def test_other_org_gets_404_and_changes_nothing(app, client, db, make_org, world_of):
    org_a, org_b = make_org("A"), make_org("B")
    world_a = world_of(org_a)
    routes = [r for r in route_table(app) if r.params and r.id not in PUBLIC]
    assert not _unmapped(routes)
    b_session = login_session(app, db, org_b.owner_email)
    # Build the whole world first so the snapshots below compare like with like.
    for route in routes:
        for param in route.params:
            world_a.get(param)
    failures: list[str] = []
    for route in routes:
        values = {p: (world_a.fresh(p) if route.destructive and p == route.params[-1]
                      else world_a.get(p)) for p in route.params}
        before = org_snapshot(db, org_a.org_id)
        body = _body(route, world_a)
        if route.is_api:
            kwargs = {"headers": org_b.headers}
            if route.method not in ("GET", "DELETE"):
                kwargs["json"] = body
        else:
            client.cookies.clear()
            client.cookies.update(b_session.cookies)
            kwargs = {"headers": {"X-CSRF-Token": b_session.csrf}}
            if route.method == "POST":
                kwargs["data"] = body
        response = client.request(route.method, fill(route.path, values),
                                  follow_redirects=False, **kwargs)
        client.cookies.clear()
        if response.status_code not in (403, 404):
            failures.append(f"{route.id}: {response.status_code} {response.text[:200]}")
        if world_a.marker in response.text:
            failures.append(f"{route.id}: response shows organisation A's data")
        after = org_snapshot(db, org_a.org_id)
        changed = [t for t in before if before[t] != after[t]]
        if changed:
            failures.append(f"{route.id}: changed A's rows in {changed}")
    print(f"\ntenant isolation: {len(routes)} object routes checked with another org's "
          "credentials")
    assert not failures, "\n".join(failures)


# Request bodies that name another organisation's objects: each must be refused (4xx) and
# change nothing of A's. (method, path, body with "{param}" placeholders for A's objects.)
CROSS_REFERENCES = [
    ("POST", "/api/v1/tickets", {"response_id": "{response_id}"}),
    ("POST", "/api/v1/tickets/bulk", {"ticket_ids": ["{ticket_id}"], "action": "close"}),
    ("POST", "/api/v1/rules/order", {"rule_ids": ["{rule_id}"]}),
    ("POST", "/api/v1/plans", {"title": "x", "start_date": "2026-01-01", "link_kind": "survey",
                               "link_value": "{survey_id}"}),
    ("POST", "/api/v1/referrals/campaigns", {"channel_ids": ["{channel_id}"], "dry_run": True}),
    ("POST", "/api/v1/teams", {"key": "t1", "name": "t", "notify_channel_ids": ["{channel_id}"]}),
    ("POST", "/api/v1/segments/preview", {"rules": {"match": "all", "conditions": [
        {"field": "segment", "op": "in", "values": ["{segment_id}"]}]}}),
]


def _fill_body(value, world):
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return world.get(value[1:-1])
    if isinstance(value, list):
        return [_fill_body(v, world) for v in value]
    if isinstance(value, dict):
        return {k: _fill_body(v, world) for k, v in value.items()}
    return value


def test_lists_and_reports_of_b_show_nothing_of_a(app, client, db, make_org, world_of):
    """Every read route without an object in its path (lists, stats, exports, pages), called
    by B once A's world exists: A's marker never appears; bodies naming A's objects fail."""
    org_a, org_b = make_org("A"), make_org("B")
    world_a = world_of(org_a)
    for param in ("survey_id", "response_id", "ticket_id", "rule_id", "segment_id", "plan_id",
                  "channel_id", "endpoint_id", "message_id", "topic_id", "import_id", "code",
                  "key", "team_id"):
        world_a.get(param)
    b_session = login_session(app, db, org_b.owner_email)
    reads = [r for r in route_table(app) if r.method == "GET" and not r.params]
    leaks = []
    for route in reads:
        if route.is_api:
            response = client.get(route.path, headers=org_b.headers,
                                  params={"format": "csv"} if "exports" in route.path else None)
        else:
            client.cookies.update(b_session.cookies)
            response = client.get(route.path, follow_redirects=False)
            client.cookies.clear()
        if world_a.marker in response.text:
            leaks.append(route.id)
    assert not leaks, f"B sees A's data in: {leaks}"
    refused = []
    for method, path, body in CROSS_REFERENCES:
        before = org_snapshot(db, org_a.org_id)
        response = client.request(method, path, headers=org_b.headers,
                                  json=_fill_body(body, world_a))
        # A 4xx, or a 2xx that reports the object as not found (bulk answers per item) or,
        # for the segment preview, matches nothing of A's.
        ok = 400 <= response.status_code < 500 or (response.status_code < 300 and (
            "not found" in response.text or "segments/preview" in path))
        if not ok or world_a.marker in response.text:
            refused.append(f"{method} {path}: {response.status_code} {response.text[:200]}")
        if org_snapshot(db, org_a.org_id) != before:
            refused.append(f"{method} {path}: changed A's rows")
    print(f"\ntenant isolation: {len(reads)} list/report routes read by another org, "
          f"{len(CROSS_REFERENCES)} cross-org references refused")
    assert not refused, "\n".join(refused)
