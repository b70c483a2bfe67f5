"""Contact, import and segment pages render for signed-in users in both languages."""

from __future__ import annotations

import pytest


@pytest.fixture
def signed_in(client, org):
    response = client.post("/login", data={"email": org.owner_email, "password": org.password},
                           follow_redirects=False)
    assert response.status_code in (302, 303), response.text
    return client


def seed(client, org):
    client.post("/api/v1/contacts/batch", json={"contacts": [
        {"external_id": "C-1", "name": "王芳", "email": "wf@example.cn", "tags": ["vip"],
         "lifecycle_stage": "retention", "attributes": {"plan": "gold", "orders": 3}},
        {"external_id": "C-2", "attributes": {"plan": "free"}}]}, headers=org.headers)
    client.post("/api/v1/events", json={"contact_external_id": "C-1", "name": "order_paid",
                                        "properties": {"amount": 99}}, headers=org.headers)
    return client.post("/api/v1/segments", json={"name": "Gold", "rules": {
        "match": "all", "conditions": [
            {"field": "attribute", "key": "plan", "operator": "equals", "value": "gold"}]}},
        headers=org.headers).json()


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_pages_render_without_missing_translations(signed_in, org, lang):
    segment = seed(signed_in, org)
    contact = signed_in.get("/api/v1/contacts/C-1", headers=org.headers).json()
    for path in ("/contacts", f"/contacts/{contact['id']}", "/contacts/import",
                 "/contacts/segments", "/contacts/segments/new",
                 f"/contacts/segments/{segment['id']}", f"/contacts?segment={segment['id']}",
                 "/contacts?q=wf&tag=vip&stage=retention"):
        response = signed_in.get(path, params={"lang": lang})
        assert response.status_code == 200, (path, response.text[:300])
        for prefix in ("contacts.", "segments.", "nav.contacts"):
            assert f">{prefix}" not in response.text, (path, prefix)
    listing = signed_in.get("/contacts", params={"lang": lang, "segment": segment["id"]}).text
    assert "王芳" in listing and "C-2" not in listing


def test_tags_form_and_other_org(signed_in, org, make_org):
    seed(signed_in, org)
    contact = signed_in.get("/api/v1/contacts/C-1", headers=org.headers).json()
    page = signed_in.get(f"/contacts/{contact['id']}")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    response = signed_in.post(f"/contacts/{contact['id']}/tags",
                              data={"csrf_token": token, "add": "华东, beta"},
                              follow_redirects=False)
    assert response.status_code == 303
    assert signed_in.get("/api/v1/contacts/C-1", headers=org.headers).json()["tags"] == [
        "vip", "华东", "beta"]
    signed_in.post(f"/contacts/{contact['id']}/tags", data={"csrf_token": token,
                                                           "remove": "vip"})
    assert signed_in.get("/api/v1/contacts/C-1", headers=org.headers).json()["tags"] == [
        "华东", "beta"]
    # Another organisation's key (it wins over the cookie) sees no such contact.
    other = make_org("Other")
    assert signed_in.get(f"/contacts/{contact['id']}", headers=other.headers).status_code == 404


def test_pages_need_sign_in(client):
    response = client.get("/contacts", follow_redirects=False)
    assert response.status_code == 303 and "/login" in response.headers["location"]
