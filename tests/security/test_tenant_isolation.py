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
