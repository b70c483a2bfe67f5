"""Site-key management through the API and the admin page, roles and tenancy; the test
page's availability and its Content-Security-Policy."""

from __future__ import annotations

import re

from tests.plans.test_plan_pages import csrf, login, post_form

from npsloop.core.config import Settings
from npsloop.core.i18n import catalogs


def test_create_list_update_revoke_through_the_api(client, org):
    created = client.post("/api/v1/widget/site-keys", headers=org.headers, json={
        "name": "Main site", "allowed_origins": ["https://Shop.Example.com/",
                                                 "http://localhost:8080"]})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["key"].startswith("npw_")
    assert body["allowed_origins"] == ["https://shop.example.com", "http://localhost:8080"]
    assert "window.npsloop=window.npsloop||function()" in body["snippet"]
    assert f"key: '{body['key']}'" in body["snippet"]
    assert '/widget/npsloop.js"' in body["snippet"]
    listed = client.get("/api/v1/widget/site-keys", headers=org.headers).json()["items"]
    assert [k["id"] for k in listed] == [body["id"]]
    patched = client.patch(f"/api/v1/widget/site-keys/{body['id']}", headers=org.headers,
                           json={"allowed_origins": ["https://m.example.com"]})
    assert patched.json()["allowed_origins"] == ["https://m.example.com"]
    revoked = client.post(f"/api/v1/widget/site-keys/{body['id']}/revoke", headers=org.headers)
    assert revoked.json()["revoked_at"] is not None


def test_origins_must_be_bare_origins(client, org):
    for bad in ("shop.example.com", "https://shop.example.com/path", "ftp://x.example",
                "https://*.example.com", "https://shop.example.com?q=1"):
        response = client.post("/api/v1/widget/site-keys", headers=org.headers,
                               json={"name": "x", "allowed_origins": [bad]})
        assert response.status_code == 422, bad
        assert response.json()["detail"][0]["loc"] == ["body", "allowed_origins"]
    empty = client.post("/api/v1/widget/site-keys", headers=org.headers,
                        json={"name": " ", "allowed_origins": []})
    assert empty.status_code == 422
    assert empty.json()["detail"][0]["loc"] == ["body", "name"]


def test_only_owners_and_admins_manage_keys_and_only_their_own(client, org, make_org,
                                                                 role_key):
    analyst = role_key(org.org_id, "analyst")
    assert client.get("/api/v1/widget/site-keys", headers=analyst).status_code == 403
    assert client.post("/api/v1/widget/site-keys", headers=analyst,
                       json={"name": "x"}).status_code == 403
    key_id = client.post("/api/v1/widget/site-keys", headers=org.headers,
                         json={"name": "Mine"}).json()["id"]
    other = make_org()
    assert client.post(f"/api/v1/widget/site-keys/{key_id}/revoke",
                       headers=other.headers).status_code == 404
    assert client.get("/api/v1/widget/site-keys", headers=other.headers).json()["items"] == []


def test_admin_page_creates_edits_and_revokes_in_both_languages(client, org):
    login(client, org.owner_email)
    token = csrf(client, "/widget?lang=en")
    page = client.get("/widget?lang=en").text
    assert "No site keys yet" in page
    created = post_form(client, "/widget/site-keys", {
        "csrf_token": token, "name": "Shop", "allowed_origins": "https://shop.example.com\n"},
        follow_redirects=False)
    assert created.status_code == 303
    page = client.get(created.headers["location"]).text
    key = re.search(r"<code>(npw_[^<]+)</code>", page).group(1)
    assert "https://shop.example.com" in page and "window.npsloop" in page
    key_id = re.search(r'data-site-key="([0-9a-f]+)"', page).group(1)
    bad = post_form(client, f"/widget/site-keys/{key_id}/origins",
                    {"csrf_token": token, "allowed_origins": "not an origin"})
    assert bad.status_code == 422 and "is not an origin" in bad.text
    switched = post_form(client, f"/widget/site-keys/{key_id}/identity",
                         {"csrf_token": token, "verify_identity": "on"}, follow_redirects=False)
    assert switched.status_code == 303
    secret = re.search(r"<code data-identity-secret>([^<]+)</code>",
                       client.get("/widget?lang=en").text).group(1)
    assert len(secret) >= 32
    revoked = post_form(client, f"/widget/site-keys/{key_id}/revoke", {"csrf_token": token},
                        follow_redirects=False)
    assert revoked.status_code == 303
    zh = client.get("/widget?lang=zh-CN").text
    assert "已吊销" in zh and key in zh
    leaked = [k for k in catalogs()["en"] if k.startswith("widget.") and k in zh]
    assert leaked == []
    missing_csrf = post_form(client, "/widget/site-keys", {"name": "x"})
    assert missing_csrf.status_code == 403


def test_test_page_embeds_the_snippet_with_a_nonce(client, org):
    page = client.get("/widget/test?key=npw_abc&user=u-1&lang=zh-CN")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    assert f'<script nonce="{nonce}">' in page.text
    assert '"key": "npw_abc"' in page.text and '"lang": "zh-CN"' in page.text
    assert "/widget/npsloop.js" in page.text and "插件测试页" in page.text
    assert "connect-src 'self' http://testserver http://127.0.0.1:8000;" in policy
    bad_host = client.get("/widget/test?host=javascript:alert(1)")
    assert bad_host.status_code == 422


def test_test_page_picks_the_admins_newest_active_key(client, org):
    key = client.post("/api/v1/widget/site-keys", headers=org.headers,
                      json={"name": "Shop"}).json()["key"]
    login(client, org.owner_email)
    assert f'"key": "{key}"' in client.get("/widget/test").text


def test_test_page_is_hidden_in_production_unless_admin(settings, db_factory, org):
    from fastapi.testclient import TestClient

    from npsloop.app import create_app

    production = Settings(database_url=settings.database_url, env="production",
                          secret_key="x" * 40, inprocess_worker=False)
    with TestClient(create_app(production, db_factory, start_worker=False)) as client:
        assert client.get("/widget/test").status_code == 404
        login(client, org.owner_email)
        assert client.get("/widget/test").status_code == 200
