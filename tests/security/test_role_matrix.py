"""Every role against every route, generated from the route table.

A route's minimum role is the permission its `require(...)` dependency declares, and
accounts.service.PERMISSIONS says which roles hold it. API routes are called with an API key
of the role, pages with a signed-in user of the role (and its CSRF token). A role without the
permission gets 403; a role with it gets past the check (a GET answers < 400; a write may
still refuse an empty body with 422, which proves the role check passed: FastAPI runs
dependencies before it validates the body).

An authenticated route that declares no permission is open to every role: such routes are
listed in ANY_ROLE, so a new route that forgets its `require(...)` fails here.
"""

from __future__ import annotations

from npsloop.accounts.service import PERMISSIONS, create_api_key
from tests.security.conftest import ROLES, login_session
from tests.security.routes import fill, route_table
from tests.security.world import PARAM_FACTORIES

# Required query parameters of read routes (so an allowed role gets a 200, not a 422).
QUERIES: dict[str, dict[str, str]] = {
    "GET /api/v1/stats/crosstab": {"rows": "category", "cols": "channel"},
    "GET /api/v1/stats/distribution": {"by": "channel"},
    "GET /api/v1/stats/churn": {"event": "churned"},
    "GET /api/v1/events": {"contact_external_id": "{external_id}"},
    "GET /api/v1/referrals/breakdown": {"by": "touchpoint"},
}
ANY_ROLE = {"GET /api/v1/me": "who am I: every caller may ask",
            "GET /api/v1/org": "the organisation's name, time zone and language: every member "
                               "sees them on every page"}
# Routes that talk to an outside server right away: with the world's unreachable mail server
# an allowed role gets past the permission check and then a 502 naming the server.
UPSTREAM = {"POST /api/v1/digests/{digest_id}/send", "POST /reports/digests/{digest_id}/send"}
# Not behind a login on purpose (the token or code in the path is the credential, or the
# route is the login itself).
UNAUTHENTICATED = {
    "GET /healthz", "GET /login", "POST /login", "POST /logout",
    "GET /r/{code}", "GET /r/{code}/qr.png", "POST /r/{code}/shared",
    "GET /referral-invite/{token}/{response_id}",
    "GET /s/{token}", "POST /s/{token}/responses", "GET /s/{token}/thanks",
    # A personal invitation link and its unsubscribe page: the signed token is the credential.
    "GET /i/{token}", "GET /u/{token}", "POST /u/{token}",
    # The widget's public API (the publishable site key and its allowed origins are the
    # credential) and its scripts.
    "POST /widget/v1/{key}/{action}", "GET /widget/npsloop.js", "GET /widget/admin.js",
    # Development/test page, or a signed-in admin (checked inside; 404 otherwise).
    "GET /widget/test",
    # A redirect to /targeting/triggers, which requires its role.
    "GET /targeting",
    # SMS vendors push carrier delivery receipts here and cannot sign in: the random
    # per-channel token in the path is the credential (wrong token: 404).
    "POST /hooks/sms/{channel_id}/{receipt_token}",
}


def test_every_route_declares_its_minimum_role(app):
    undeclared = [r.id for r in route_table(app)
                  if r.permission is None and r.id not in ANY_ROLE
                  and r.id not in UNAUTHENTICATED]
    assert not undeclared, (
        "routes without a require(<permission>) dependency; add one, or list the route in "
        f"ANY_ROLE / UNAUTHENTICATED with the reason: {undeclared}")
    unknown = {r.permission for r in route_table(app) if r.permission} - set(PERMISSIONS)
    assert not unknown, f"routes declare permissions no role holds: {unknown}"


def test_unauthenticated_routes_need_no_login(app):
    routes = {r.id: r for r in route_table(app)}
    assert set(routes) >= UNAUTHENTICATED, set(UNAUTHENTICATED) - set(routes)
    assert not [rid for rid in UNAUTHENTICATED if routes[rid].authenticated]


def test_every_role_against_every_route(app, client, db, org, make_user, world_of):
    world = world_of(org)
    routes = [r for r in route_table(app) if r.authenticated]
    unmapped = sorted({p for r in routes for p in r.params if p not in PARAM_FACTORIES})
    assert not unmapped, f"add factories to tests/security/world.py for {unmapped}"
    # Objects first: the role keys made below must not be the ones a DELETE removes.
    for route in routes:
        for param in route.params:
            world.get(param)
    keys, sessions = {}, {}
    for role in ROLES:
        _, plain = create_api_key(db, org_id=org.org_id, name=f"matrix-{role}", role=role)
        keys[role] = {"Authorization": f"Bearer {plain}"}
        sessions[role] = login_session(app, db, make_user(org.org_id, role))
    db.commit()

    failures: list[str] = []
    checked = 0
    for route in routes:
        allowed = ({r.value for r in PERMISSIONS[route.permission]} if route.permission
                   else set(ROLES))
        for role in ROLES:
            values = {p: (world.fresh(p) if route.destructive and p == route.params[-1]
                          else world.get(p)) for p in route.params}
            if route.is_api:
                kwargs = {"headers": keys[role]}
                if route.method in ("POST", "PUT", "PATCH"):
                    kwargs["json"] = {}
            else:
                client.cookies.update(sessions[role].cookies)
                kwargs = {"headers": {"X-CSRF-Token": sessions[role].csrf}}
                if route.method == "POST":
                    kwargs["data"] = {}
            query = {k: world.get(v[1:-1]) if v.startswith("{") else v
                     for k, v in QUERIES.get(route.id, {}).items()}
            response = client.request(route.method, fill(route.path, values), params=query,
                                      follow_redirects=False, **kwargs)
            client.cookies.clear()
            checked += 1
            status = response.status_code
            if role not in allowed:
                if status != 403:
                    failures.append(f"{route.id} as {role}: {status}, expected 403")
            elif route.id in UPSTREAM and status == 502:
                continue
            elif status in (401, 403) or status >= 500 or (route.method == "GET"
                                                             and status >= 400):
                failures.append(f"{route.id} as {role}: {status} {response.text[:160]}")
    print(f"\nrole matrix: {len(routes)} routes x {len(ROLES)} roles = {checked} checks")
    assert checked == len(routes) * len(ROLES)
    assert not failures, "\n".join(failures)
