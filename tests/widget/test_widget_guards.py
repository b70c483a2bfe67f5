"""What keeps the public widget endpoints safe: origins and CORS, site keys (unknown,
revoked, another organisation's tickets), bad input as a 4xx naming the field, the bound on
calls, and the script itself (size, caching)."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json

import pytest
from tests.widget.conftest import SHOP

from npsloop.widget import public
from npsloop.widget.ratelimit import SlidingWindow


def test_allowed_origin_gets_cors_and_others_are_refused(client, site, call):
    ok = call(site, "identify", {"user_id": "u-1"})
    assert ok.headers["access-control-allow-origin"] == SHOP
    assert ok.headers["vary"] == "Origin"
    refused = call(site, "identify", {"user_id": "u-1"}, origin="https://evil.example.test")
    assert refused.status_code == 403
    assert "access-control-allow-origin" not in refused.headers
    assert "not allowed" in refused.json()["detail"]
    preflight = client.options(site.url("track"), headers={
        "Origin": SHOP, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == SHOP
    assert "POST" in preflight.headers["access-control-allow-methods"]
    bad = client.options(site.url("track"), headers={"Origin": "https://evil.example.test"})
    assert bad.status_code == 403 and "access-control-allow-origin" not in bad.headers


def test_unknown_calls_and_unknown_or_malformed_keys_are_refused(site, call):
    assert call(site, "delete_everything", {}).status_code == 404
    site.key = "npw_doesnotexist"
    assert call(site, "identify", {"user_id": "u"}).status_code == 401
    site.key = "not-even-a-key" * 10
    assert call(site, "identify", {"user_id": "u"}).status_code == 401


def test_revoked_key_stops_at_once(client, bare_org, make_site, call):
    org = bare_org()
    site = make_site(org)
    assert call(site, "identify", {"user_id": "u"}).status_code == 200
    revoked = client.post(f"/api/v1/widget/site-keys/{site.key_id}/revoke", headers=org.headers)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert call(site, "identify", {"user_id": "u"}).status_code == 401


BAD_INPUT = [
    ("identify", {}, "user_id"),
    ("identify", {"user_id": ""}, "user_id"),
    ("identify", {"user_id": "   "}, "user_id"),
    ("identify", {"user_id": "u", "attributes": {"nested": {"a": 1}}}, "attributes"),
    ("identify", {"user_id": "u", "admin": True}, "admin"),
    ("track", {"user_id": "u"}, "event"),
    ("track", {"user_id": "u", "event": "has space"}, "event"),
    ("track", {"user_id": "u", "event": "e", "properties": [1]}, "properties"),
    ("answer", {"ticket": "abc.def"}, "score"),
    ("shown", {}, "ticket"),
]


def test_bad_input_is_a_422_naming_the_field(site, call):
    for action, body, field in BAD_INPUT:
        response = call(site, action, body)
        assert response.status_code == 422, (action, body, response.text)
        locs = [entry["loc"] for entry in response.json()["detail"]]
        assert any(field in loc for loc in locs), (body, locs)
        assert response.headers["access-control-allow-origin"] == SHOP  # the page reads it


def test_bad_scores_and_bodies(site, call):
    offer = call(site, "track", {"user_id": "u-9", "event": "order_paid"}).json()
    for score in (11, -1, "9", 9.5, None):
        response = call(site, "answer", {"ticket": offer["ticket"], "score": score})
        assert response.status_code == 422, (score, response.text)
        assert response.json()["detail"][0]["loc"] == ["body", "score"]
    assert call(site, "answer", {}, raw=b"{not json").status_code == 422
    assert call(site, "answer", {}, raw=b"[1, 2]").json()["detail"][0]["msg"] == \
        "body must be a JSON object"
    assert call(site, "answer", {}, raw=b"\xff\xfe").status_code == 422
    too_big = json.dumps({"user_id": "u", "attributes": {"x": "y" * 20_000}}).encode()
    assert call(site, "identify", {}, raw=too_big).status_code == 413
    assert call(site, "track", {"user_id": "u", "event": "e", "properties": {
        "blob": "z" * 9000}}).status_code == 422


def test_attribute_of_the_wrong_type_names_it(client, bare_org, make_site, call):
    org = bare_org()
    site = make_site(org)
    created = client.post("/api/v1/contact-attributes", headers=org.headers,
                          json={"key": "spend", "type": "number"})
    assert created.status_code == 201, created.text
    response = call(site, "identify", {"user_id": "u", "attributes": {"spend": "lots"}})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "attributes", "spend"]


def test_forged_or_foreign_tickets_are_refused(bare_org, make_site, call):
    mine = make_site(bare_org())
    theirs = make_site(bare_org())
    offer = call(theirs, "track", {"user_id": "u", "event": "order_paid"}).json()
    ticket = offer["ticket"]
    # Another organisation's key cannot touch this invitation, even with a valid ticket.
    assert call(mine, "answer", {"ticket": ticket, "score": 10}).status_code == 403
    assert call(mine, "dismissed", {"ticket": ticket}).status_code == 403
    invitation_id = ticket.partition(".")[0]
    forged = f"{invitation_id}.{'0' * 32}"
    assert call(theirs, "answer", {"ticket": forged, "score": 10}).status_code == 403
    assert call(theirs, "shown", {"ticket": "nodot"}).status_code == 403


def test_calls_are_bounded_per_client(monkeypatch, site, call):
    monkeypatch.setattr(public, "PER_CLIENT", SlidingWindow(limit=3, per_seconds=60))
    codes = [call(site, "identify", {"user_id": "u"}).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = call(site, "identify", {"user_id": "u"})
    assert int(limited.headers["retry-after"]) >= 1


def test_sliding_window_frees_slots_and_caps_its_keys():
    window = SlidingWindow(limit=2, per_seconds=10, max_keys=2)
    assert window.hit("a", now=0) == 0 and window.hit("a", now=1) == 0
    assert window.hit("a", now=2) == pytest.approx(8)
    assert window.hit("a", now=10.5) == 0  # the first hit left the window
    window.hit("b", now=11)
    window.hit("c", now=11)
    assert "a" not in window._hits and len(window._hits) == 2


def test_script_is_small_cached_and_gzipped(client):
    plain = client.get("/widget/npsloop.js", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200
    assert plain.headers["content-type"].startswith("text/javascript")
    assert "public" in plain.headers["cache-control"]
    size = len(gzip.compress(plain.content, compresslevel=9))
    assert size < 15 * 1024, f"widget is {size} bytes gzipped"
    assert b"attachShadow" in plain.content and b"import " not in plain.content
    zipped = client.get("/widget/npsloop.js", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == plain.content  # the client decoded it
    again = client.get("/widget/npsloop.js", headers={"If-None-Match": plain.headers["etag"]})
    assert again.status_code == 304


HOSTILE = [
    (b'{"user_id": "u", "event": "e", "properties": {"x": NaN}}', ["body"]),
    (b'{"user_id": "u", "event": "e", "properties": {"x": Infinity}}', ["body"]),
    (b'{"user_id": "u", "event": "e", "properties": {"n": 1e400}}', ["body"]),
    (b'{"user_id": "u\\u0000", "event": "e"}', ["body", "user_id"]),
    (b'{"user_id": "u", "event": "e", "properties": {"a\\u0000": 1}}', ["body", "properties"]),
    (b'{"user_id": "u", "event": "e", "properties": {"x": ' + b"[" * 40 + b"]" * 40 + b"}}",
     ["body", "properties", "x"]),
    (b"[" * 5000 + b"]" * 5000, ["body"]),
]


def test_hostile_json_is_a_422_never_a_500(site, call):
    for raw, loc in HOSTILE:
        response = call(site, "track", {}, raw=raw)
        assert response.status_code == 422, (raw[:60], response.text)
        assert response.json()["detail"][0]["loc"][:len(loc)] == loc, raw[:60]


def test_identity_verification_refuses_unsigned_or_forged_users(client, bare_org, make_site,
                                                                 call):
    org = bare_org()
    site = make_site(org)
    switched = client.patch(f"/api/v1/widget/site-keys/{site.key_id}", headers=org.headers,
                            json={"verify_identity": True})
    secret = switched.json()["identity_secret"]
    assert secret and len(secret) >= 32
    signed = hmac.new(secret.encode(), b"u-42", hashlib.sha256).hexdigest()
    unsigned = call(site, "identify", {"user_id": "u-42"})
    assert unsigned.status_code == 403
    assert unsigned.json()["detail"][0]["loc"] == ["body", "user_hash"]
    forged = call(site, "track", {"user_id": "u-43", "event": "order_paid", "user_hash": signed})
    assert forged.status_code == 403
    assert call(site, "identify", {"user_id": "u-42", "user_hash": signed}).status_code == 200
    offer = call(site, "track", {"user_id": "u-42", "event": "order_paid",
                                 "user_hash": signed.upper()})
    assert offer.status_code == 200 and offer.json()["show"] is True
    off = client.patch(f"/api/v1/widget/site-keys/{site.key_id}", headers=org.headers,
                       json={"verify_identity": False})
    assert off.json()["identity_secret"] is None
    assert call(site, "identify", {"user_id": "u-44"}).status_code == 200


def test_deciding_calls_share_one_budget_across_processes(app, site, call):
    """identify/track count in the database too: a process with fresh memory (here: the
    in-memory windows emptied) still sees the calls the others let through."""
    app.state.settings = app.state.settings.model_copy(update={"widget_decides_per_minute": 2})
    assert [call(site, "identify", {"user_id": "u"}).status_code for _ in range(2)] == [200, 200]
    public.PER_CLIENT.reset()
    public.PER_KEY.reset()
    limited = call(site, "track", {"user_id": "u", "event": "order_paid"})
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.headers["access-control-allow-origin"] == SHOP  # the page can read it
    assert "widget-decide" in limited.json()["detail"]
    # Marking a shown popup does not decide: only the local bound applies to it.
    assert call(site, "shown", {"ticket": "nodot"}).status_code == 403


def test_sliding_window_drops_keys_whose_calls_expired():
    window = SlidingWindow(limit=5, per_seconds=10)
    window.hit("a", now=0)
    window.hit("b", now=1)
    window.hit("c", now=9)
    assert len(window) == 3
    window.hit("d", now=10.5)  # "a" left the window: dropped on the way
    assert "a" not in window._hits and len(window) == 3
    assert window.prune(now=18.5) == 1  # "b"; "c" (9) is still inside, "d" after it too
    assert list(window._hits) == ["c", "d"]
    assert window.prune(now=100) == 2 and len(window) == 0
