"""The organisation's settings: API and page, validation naming the field, the audit entry,
and survey pages framed only by the sites the organisation allows."""

from __future__ import annotations

from sqlalchemy import select

from npsloop.accounts.models import AuditLog, Role
from tests.plans.test_plan_pages import csrf, login, post_form
from tests.responses.test_public_page import token_of


def test_owner_reads_and_changes_settings(client, org, role_key, db):
    assert client.get("/api/v1/org", headers=org.headers).json() == {
        "id": org.org_id, "name": "Acme", "timezone": "Asia/Shanghai",
        "default_language": "zh-CN", "embed_origins": []}
    owner = role_key(org.org_id, Role.owner)
    changed = client.patch("/api/v1/org", headers=owner, json={
        "name": " Acme China ", "timezone": "Europe/Berlin", "default_language": "en",
        "embed_origins": ["https://Shop.Example.com/", "https://*.example.com:8443",
                          "https://shop.example.com"]})
    assert changed.status_code == 200, changed.text
    assert changed.json() == {
        "id": org.org_id, "name": "Acme China", "timezone": "Europe/Berlin",
        "default_language": "en",
        "embed_origins": ["https://shop.example.com", "https://*.example.com:8443"]}
    # Only the given fields change.
    again = client.patch("/api/v1/org", headers=owner, json={"name": "Acme"}).json()
    assert again["timezone"] == "Europe/Berlin" and again["name"] == "Acme"
    entries = db.scalars(select(AuditLog).where(AuditLog.org_id == org.org_id,
                                                AuditLog.action == "org.settings.update")
                         .order_by(AuditLog.created_at)).all()
    assert len(entries) == 2
    assert entries[0].detail["timezone"] == {"from": "Asia/Shanghai", "to": "Europe/Berlin"}


def test_bad_settings_name_the_field(client, org, role_key):
    owner = role_key(org.org_id, Role.owner)
    cases = [
        ({"timezone": "Mars/Olympus"}, ["body", "timezone"]),
        ({"default_language": "fr"}, ["body", "default_language"]),
        ({"name": "   "}, ["body", "name"]),
        ({"name": None}, ["body", "name"]),
        ({"embed_origins": ["https://ok.example.com", "https://a.example.com/path"]},
         ["body", "embed_origins", "1"]),
        ({"embed_origins": ["https://a.example.com; script-src *"]},
         ["body", "embed_origins", "0"]),
        ({"embed_origins": ["javascript:alert(1)"]}, ["body", "embed_origins", "0"]),
        ({"embed_origins": ["https://a.example.com:99999"]}, ["body", "embed_origins", "0"]),
        ({"embed_origins": ["*"]}, ["body", "embed_origins", "0"]),
    ]
    for body, location in cases:
        answer = client.patch("/api/v1/org", headers=owner, json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["detail"][0]["loc"] == location, (body, answer.json())
    unknown = client.patch("/api/v1/org", headers=owner, json={"colour": "red"})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == [
        "body", "colour"]
    too_many = client.patch("/api/v1/org", headers=owner, json={
        "embed_origins": [f"https://s{i}.example.com" for i in range(21)]})
    assert too_many.status_code == 422
    assert client.get("/api/v1/org", headers=org.headers).json()["timezone"] == "Asia/Shanghai"


def test_only_the_owner_changes_settings(client, org, role_key):
    for role in (Role.admin, Role.analyst, Role.viewer):
        answer = client.patch("/api/v1/org", headers=role_key(org.org_id, role),
                              json={"name": "Taken over"})
        assert answer.status_code == 403


def test_survey_pages_are_framed_only_by_allowed_sites(client, org, survey, role_key):
    token = token_of(survey)
    page = client.get(f"/s/{token}")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    client.patch("/api/v1/org", headers=role_key(org.org_id, Role.owner),
                 json={"embed_origins": ["https://shop.example.com"]})
    for path in (f"/s/{token}", f"/s/{token}/thanks"):
        framed = client.get(path)
        assert framed.status_code == 200
        policy = framed.headers["content-security-policy"]
        assert "frame-ancestors https://shop.example.com" in policy
        assert framed.headers.get("x-frame-options", "") == ""
    # The signed-in app itself is never framed.
    assert "frame-ancestors 'none'" in client.get("/login").headers["content-security-policy"]


def test_settings_page_saves_and_marks_bad_fields(client, org):
    login(client, org.owner_email)
    client.cookies.set("lang", "en")
    token = csrf(client, "/settings/org")
    bad = post_form(client, "/settings/org", {
        "csrf_token": token, "name": "Acme", "timezone": "Asia/Shanghai",
        "default_language": "zh-CN", "embed_origins": "https://ok.example.com\nnot an origin"})
    assert bad.status_code == 422
    assert 'id="err-embed_origins"' in bad.text and "not an origin" in bad.text
    good = post_form(client, "/settings/org", {
        "csrf_token": token, "name": "Acme Retail", "timezone": "Asia/Tokyo",
        "default_language": "en", "embed_origins": "https://ok.example.com\n\n"},
        follow_redirects=True)
    assert good.status_code == 200 and "Settings saved." in good.text
    assert 'value="Acme Retail"' in good.text
    settings = client.get("/api/v1/org", headers=org.headers).json()
    assert settings["timezone"] == "Asia/Tokyo"
    assert settings["embed_origins"] == ["https://ok.example.com"]
    client.cookies.set("lang", "zh-CN")
    assert "组织设置" in client.get("/settings/org").text
    no_token = post_form(client, "/settings/org", {"name": "x"})
    assert no_token.status_code == 403


def test_admins_do_not_see_or_open_the_settings_page(client, org, make_user):
    email = make_user(org.org_id, Role.admin)
    login(client, email)
    assert client.get("/settings/org").status_code == 403
    assert 'href="/settings/org"' not in client.get("/").text
