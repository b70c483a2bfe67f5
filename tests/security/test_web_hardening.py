"""Templates hold no inline script (the CSP forbids it), every POST form carries its CSRF
token, every response carries the security headers, and cookies have the right flags."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.responses import HTMLResponse

from npsloop.core.headers import allow_framing
from tests.security.conftest import login_session

SRC = Path(__file__).resolve().parents[2] / "src" / "npsloop"
TEMPLATES = sorted(SRC.glob("*/templates/**/*.html"))

SCRIPT_TAG = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.S | re.I)
HANDLER_ATTR = re.compile(r"<[a-zA-Z][^>]*?\s(on[a-z]+)\s*=", re.S)
JS_URL = re.compile(r"""(?:href|src|action)\s*=\s*["']\s*javascript:""", re.I)
POST_FORM = re.compile(r"<form\b[^>]*method\s*=\s*[\"']?post[^>]*>(.*?)</form>", re.S | re.I)
# POST forms that need no CSRF token, and why.
NO_CSRF_FORMS = {
    "accounts/templates/login.html": "no session yet; the Origin header is checked instead",
    "responses/templates/respond/survey.html": "public survey form, no session to ride on",
    "distribution/templates/distribution/unsubscribe.html": (
        "public unsubscribe by signed token (also the one-click List-Unsubscribe target)"),
}
# Templates allowed inline code, with why: it runs under a per-response CSP nonce.
NONCED_SCRIPTS = {
    "widget/templates/widget/test_page.html": "shows the customer's snippet exactly as pasted; "
                                              "served with a per-response nonce",
}


def _relative(path: Path) -> str:
    return str(path.relative_to(SRC))


def inline_script_offenders() -> list[str]:
    found = []
    for path in TEMPLATES:
        text = path.read_text(encoding="utf-8")
        if _relative(path) in NONCED_SCRIPTS and "nonce=" in text:
            continue
        for attrs, body in SCRIPT_TAG.findall(text):
            is_data = re.search(r"type\s*=\s*[\"']application/(ld\+)?json", attrs)
            if "src=" not in attrs and not is_data:
                found.append(f"{_relative(path)}: inline <script>")
            elif "src=" in attrs and body.strip():
                found.append(f"{_relative(path)}: <script src> with inline code")
        found += [f"{_relative(path)}: {name}= handler" for name in HANDLER_ATTR.findall(text)]
        if JS_URL.search(text):
            found.append(f"{_relative(path)}: javascript: URL")
    return found


def test_templates_found():
    assert len(TEMPLATES) > 40


def test_no_template_has_an_inline_script_or_handler():
    """The CSP is script-src 'self': inline code would silently not run. Move it to a file
    under web/static/js and pass parameters in data- attributes or a JSON data block."""
    offenders = inline_script_offenders()
    assert not offenders, "\n".join(offenders)


def test_every_post_form_carries_the_csrf_token():
    missing = []
    for path in TEMPLATES:
        if _relative(path) in NO_CSRF_FORMS:
            continue
        for body in POST_FORM.findall(path.read_text(encoding="utf-8")):
            if "csrf_token" not in body and "csrf" not in body:
                missing.append(_relative(path))
    assert not missing, f"POST forms without a csrf_token field: {sorted(set(missing))}"


def test_a_cookie_session_write_without_the_token_is_refused(app, client, db, org, survey):
    session = login_session(app, db, org.owner_email)
    client.cookies.update(session.cookies)
    name = {"name": "csrf test"}
    assert client.post(f"/surveys/{survey['id']}", data=name).status_code == 403
    assert client.post(f"/surveys/{survey['id']}", data={**name, "csrf_token": "forged"}
                       ).status_code == 403
    assert client.patch(f"/api/v1/surveys/{survey['id']}", json=name).status_code == 403
    assert client.patch(f"/api/v1/surveys/{survey['id']}", json=name,
                        headers={"X-CSRF-Token": session.csrf}).status_code == 200


def _policy(header: str) -> dict[str, str]:
    return {part.split()[0]: part.strip() for part in header.split(";") if part.strip()}


@pytest.mark.parametrize("path", ["/login", "/healthz", "/api/v1/surveys", "/s/missing",
                                  "/static/js/common.js", "/nowhere"])
def test_security_headers_on_every_kind_of_response(client, path):
    response = client.get(path)
    policy = _policy(response.headers["content-security-policy"])
    assert policy["script-src"] == "script-src 'self'"  # no 'unsafe-inline', no CDN
    assert policy["default-src"] == "default-src 'self'"
    assert policy["frame-ancestors"] == "frame-ancestors 'none'"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "strict-transport-security" not in response.headers  # plain http base URL


def test_hsts_and_secure_session_cookie_behind_https(app, client, org):
    app.state.settings = app.state.settings.model_copy(
        update={"base_url": "https://nps.example.com"})
    response = client.post("/login", data={"email": org.owner_email, "password": org.password},
                           follow_redirects=False)
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")
    cookie = response.headers["set-cookie"]
    assert "npsloop_session=" in cookie
    for flag in ("HttpOnly", "Secure", "SameSite=lax"):
        assert flag.lower() in cookie.lower(), cookie


def test_session_cookie_flags_over_http(client, org):
    response = client.post("/login", data={"email": org.owner_email, "password": org.password},
                           follow_redirects=False)
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie


def test_allow_framing_relaxes_only_that_response(app, client):
    @app.get("/_test/embeddable")
    def embeddable() -> HTMLResponse:
        return allow_framing(HTMLResponse("<p>survey</p>"), ["https://shop.example.com"])

    framed = client.get("/_test/embeddable")
    assert "x-frame-options" not in framed.headers
    policy = _policy(framed.headers["content-security-policy"])
    assert policy["frame-ancestors"] == "frame-ancestors https://shop.example.com"
    assert policy["script-src"] == "script-src 'self'"
    # An origin list cannot smuggle in another directive.
    smuggled = allow_framing(HTMLResponse(""), ["https://a.example; script-src *"])
    assert "script-src *" not in smuggled.headers["content-security-policy"]
    assert smuggled.headers["x-frame-options"] == "DENY"
    assert client.get("/login").headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(("method", "path", "kwargs", "loc"), [
    ("POST", "/api/v1/surveys", {"json": {"name": "a\x00b"}}, ["body", "name"]),
    ("POST", "/api/v1/tickets/bulk", {"json": {"ticket_ids": ["x\x00"], "action": "close"}},
     ["body", "ticket_ids", 0]),
    ("GET", "/api/v1/surveys?status=li%00ve", {}, ["query", "status"]),
    ("GET", "/api/v1/surveys/ab%00cd", {}, ["path"]),
    ("POST", "/login", {"data": {"email": "a\x00@x.test", "password": "p"}}, ["body", "email"]),
])
def test_nul_characters_are_refused_before_the_database(client, org, method, path, kwargs,
                                                          loc):
    """PostgreSQL cannot store U+0000: it used to surface as a 500 (found by fuzzing)."""
    response = client.request(method, path, headers=org.headers, **kwargs)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == loc
    assert "NUL" in response.json()["detail"][0]["msg"]


def test_bodies_without_nul_pass_through_unchanged(client, org):
    body = {"name": "正常 \\u0000 literal", "drivers": ["price"]}
    created = client.post("/api/v1/surveys", headers=org.headers, json=body)
    assert created.status_code == 201 and created.json()["name"] == body["name"]


@pytest.mark.parametrize("path", ["/api/v1/contacts", "/api/v1/surveys", "/api/v1/tickets",
                                  "/api/v1/notify/messages"])
def test_huge_offsets_are_a_422(client, org, path):
    """An offset past the database's integer range was a 500 on both databases (fuzzing)."""
    response = client.get(path, headers=org.headers, params={"offset": 10**20})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "offset"]
