"""Rate limits, login lockout and ballot-stuffing guards, against the real app and database."""

from __future__ import annotations

import re
import time

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from npsloop.accounts import throttle
from npsloop.accounts.models import WebSession
from npsloop.notify.models import RateBucket
from npsloop.responses.ballot import BALLOT_COOKIE


def _configure(app, **limits) -> None:
    app.state.settings = app.state.settings.model_copy(update=limits)


def _login(client, email, password, **extra):
    return client.post("/login", data={"email": email, "password": password},
                       follow_redirects=False, **extra)


def test_sliding_window_counts_refuses_and_frees(db):
    limits = [throttle.RateLimit(3, 60.0)]
    assert [throttle.hit(db, "t", "who", limits) for _ in range(3)] == [None] * 3
    refused = throttle.hit(db, "t", "who", limits)
    assert refused is not None and 0 < refused.retry_after <= 60
    assert throttle.hit(db, "t", "someone-else", limits) is None  # per who
    assert throttle.peek(db, "t", "who", limits) is not None
    # The window slides: once the attempts are older than a minute, the next one passes.
    key = throttle.bucket_key("t", "who")
    old = [time.time() - 61] * 3
    db.execute(update(RateBucket).where(RateBucket.key == key).values(sent_at=old))
    db.commit()
    assert throttle.peek(db, "t", "who", limits) is None
    assert throttle.hit(db, "t", "who", limits) is None
    throttle.clear(db, "t", "who")
    assert db.scalar(select(RateBucket).where(RateBucket.key == key)) is None
    # The address itself is not stored in clear.
    throttle.hit(db, "t", "203.0.113.9", limits)
    assert not db.scalar(select(RateBucket.key).where(RateBucket.key.contains("203.0.113")))


def test_login_lockout_per_account_and_address(app, client, org):
    _configure(app, login_lockout_failures=3, login_lockout_minutes=15)
    for _ in range(3):
        assert _login(client, org.owner_email, "wrong-password").status_code == 401
    locked = _login(client, org.owner_email, org.password)  # even the right password
    assert locked.status_code == 429
    assert 800 < int(locked.headers["retry-after"]) <= 900
    assert "Too many failed sign-ins" in locked.text or "登录失败次数过多" in locked.text
    assert "15" in locked.text
    # The same account from another address is not locked out by the guesser.
    with TestClient(app, client=("198.51.100.7", 4000)) as elsewhere:
        assert _login(elsewhere, org.owner_email, org.password).status_code == 303


def test_successful_login_resets_the_failure_count(app, client, org):
    _configure(app, login_lockout_failures=3)
    for _ in range(2):
        _login(client, org.owner_email, "wrong-password")
    assert _login(client, org.owner_email, org.password).status_code == 303
    client.cookies.clear()
    for _ in range(2):
        assert _login(client, org.owner_email, "wrong-password").status_code == 401
    assert _login(client, org.owner_email, org.password).status_code == 303


def test_login_attempts_per_address(app, client, org):
    _configure(app, login_attempts_per_minute=4, login_lockout_failures=0)
    for n in range(4):
        assert _login(client, f"nobody{n}@example.test", "whatever-1").status_code == 401
    assert _login(client, org.owner_email, org.password).status_code == 429


def test_login_posted_from_another_site_is_refused(client, org):
    cross = _login(client, org.owner_email, org.password,
                   headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403 and "another site" in cross.text
    same = _login(client, org.owner_email, org.password,
                  headers={"Origin": "http://testserver"})
    assert same.status_code == 303


def test_logout_needs_the_csrf_token(client, org, db):
    assert _login(client, org.owner_email, org.password).status_code == 303
    assert client.post("/logout", follow_redirects=False).status_code == 403
    csrf = db.scalar(select(WebSession.csrf_token))
    assert client.post("/logout", headers={"X-CSRF-Token": csrf},
                       follow_redirects=False).status_code == 303
    assert client.get("/api/v1/me").status_code == 401


def _token(client, survey) -> str:
    return survey["public_url"].rstrip("/").rsplit("/", 1)[-1]


def _count(client, org, survey) -> int:
    return client.get(f"/api/v1/surveys/{survey['id']}/responses",
                      headers=org.headers).json()["total"]


def test_one_ballot_per_browser(client, org, survey):
    token = _token(client, survey)
    page = client.get(f"/s/{token}")
    cookie = page.headers["set-cookie"]
    assert cookie.startswith(f"{BALLOT_COOKIE}=") and f"Path=/s/{token}" in cookie
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.text).group(1)
    # The score tap (partial) and the final submit are one ballot...
    assert client.post(f"/s/{token}/responses", json={
        "score": 3, "status": "partial", "idempotency_key": key}).status_code == 201
    done = client.post(f"/s/{token}/responses", json={
        "score": 4, "comment": "first", "idempotency_key": key})
    assert done.status_code == 200 and done.json()["already_answered"] is False
    # ... and a second ballot from the same browser (a fresh key, a reloaded page) is not
    # counted: the first answer stands and the browser is told so.
    client.get(f"/s/{token}")
    again = client.post(f"/s/{token}/responses", json={
        "score": 10, "comment": "stuffing", "idempotency_key": "another-key"})
    assert again.status_code == 200
    assert again.json()["already_answered"] is True
    assert again.json()["id"] == done.json()["id"]
    assert again.json()["message"]
    form = client.post(f"/s/{token}/responses", data={"score": "10"}, follow_redirects=False)
    assert form.status_code == 303
    assert _count(client, org, survey) == 1
    saved = client.get(f"/api/v1/surveys/{survey['id']}/responses",
                       headers=org.headers).json()["items"][0]
    assert (saved["score"], saved["comment"]) == (4, "first")


def test_ballots_per_address_are_capped(app, client, org, survey):
    _configure(app, survey_ballots_per_hour=3)
    token = _token(client, survey)
    assert client.post(f"/s/{token}/responses", json={
        "score": 1, "status": "partial", "idempotency_key": "first-key-1"}).status_code == 201
    for n in range(2):
        assert client.post(f"/s/{token}/responses", json={"score": n}).status_code == 201
    capped = client.post(f"/s/{token}/responses", json={"score": 10, "language": "en"})
    assert capped.status_code == 429 and int(capped.headers["retry-after"]) > 0
    assert capped.json()["message"].startswith("We received too many answers")
    form = client.post(f"/s/{token}/responses", data={"score": "10", "lang": "en"})
    assert form.status_code == 429 and "Too many answers" in form.text
    # Completing one's own earlier (partial) answer is not a new ballot: it goes through.
    assert client.post(f"/s/{token}/responses", json={
        "score": 2, "idempotency_key": "first-key-1"}).status_code == 200
    with TestClient(app, client=("198.51.100.8", 4000)) as other_network:
        assert other_network.post(f"/s/{token}/responses",
                                  json={"score": 9}).status_code == 201
    assert _count(client, org, survey) == 4


def test_submit_requests_per_address_and_per_link(app, client, survey):
    _configure(app, survey_submits_per_minute=5, survey_token_submits_per_minute=8)
    token = _token(client, survey)
    codes = [client.post(f"/s/{token}/responses", json={"score": 5}).status_code
             for _ in range(6)]
    assert codes == [201] * 5 + [429]
    # Another address gets its own budget, until the link as a whole is over its limit.
    with TestClient(app, client=("198.51.100.9", 4000)) as other:
        codes = [other.post(f"/s/{token}/responses", json={"score": 5}).status_code
                 for _ in range(4)]
    assert codes == [201, 201, 201, 429]
    assert "retry in" in other.post(f"/s/{token}/responses", json={"score": 5}).text


def test_widget_decide_hook_limits_per_address_and_per_key(app, db):
    """The widget domain calls throttle.limit_widget_decide(request, db, key) first thing."""
    from fastapi import HTTPException
    from starlette.requests import Request

    _configure(app, widget_decides_per_minute=2)

    def request(host: str) -> Request:
        return Request({"type": "http", "app": app, "client": (host, 1), "headers": []})

    for _ in range(2):
        throttle.limit_widget_decide(request("192.0.2.1"), db, "wk_1")
    try:
        throttle.limit_widget_decide(request("192.0.2.1"), db, "wk_1")
        raise AssertionError("the third call in a minute should be refused")
    except HTTPException as exc:
        assert exc.status_code == 429 and int(exc.headers["Retry-After"]) > 0
        assert "widget-decide" in exc.detail
    # Other addresses share the key's budget (10 x 2): 18 more calls pass, then it is full.
    for n in range(18):
        throttle.limit_widget_decide(request(f"192.0.2.{n + 10}"), db, "wk_1")
    try:
        throttle.limit_widget_decide(request("192.0.2.99"), db, "wk_1")
        raise AssertionError("the key's budget is spent")
    except HTTPException as exc:
        assert exc.status_code == 429
    throttle.limit_widget_decide(request("192.0.2.99"), db, "wk_2")  # another widget key
