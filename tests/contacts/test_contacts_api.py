"""Contacts through the API: upsert and merge, typed attributes, tags, normalisation,
listing, batch, deletion and organisation isolation."""

from __future__ import annotations

from npsloop.accounts.models import Role


def post(client, org, body, status=201):
    response = client.post("/api/v1/contacts", json=body, headers=org.headers)
    assert response.status_code == status, response.text
    return response.json()


def test_upsert_creates_then_merges(client, org):
    first = post(client, org, {
        "external_id": "C-1", "email": "Li.Lei@Example.COM", "phone": "138 0013 8000",
        "language": "zh", "lifecycle_stage": "retention", "name": "李雷",
        "attributes": {"plan": "pro", "orders": 3, "vip": True, "signup": "2026-01-15"},
        "tags": ["beta", "beta", " north "],
    })
    assert first["email"] == "Li.Lei@example.com"
    assert first["phone"] == "+8613800138000"
    assert first["language"] == "zh-CN"
    assert first["tags"] == ["beta", "north"]
    again = post(client, org, {"external_id": "C-1", "attributes": {"city": "上海", "plan": None},
                               "add_tags": ["vip"], "remove_tags": ["beta"]}, status=200)
    assert again["id"] == first["id"]
    assert again["attributes"] == {"orders": 3, "vip": True, "signup": "2026-01-15",
                                   "city": "上海"}
    assert again["tags"] == ["north", "vip"]
    assert again["email"] == "Li.Lei@example.com"  # untouched fields stay
    types = {a["key"]: a["type"] for a in client.get(
        "/api/v1/contact-attributes", headers=org.headers).json()}
    assert types == {"plan": "string", "orders": "number", "vip": "boolean",
                     "signup": "date", "city": "string"}


def test_wrong_type_is_a_422_naming_the_attribute(client, org):
    post(client, org, {"external_id": "C-1", "attributes": {"orders": 3, "signup": "2026-01-01"}})
    response = client.post("/api/v1/contacts", json={
        "external_id": "C-2", "attributes": {"orders": "three", "signup": "yesterday"}},
        headers=org.headers)
    assert response.status_code == 422
    errors = {tuple(e["loc"]): e["msg"] for e in response.json()["detail"]}
    assert ("body", "attributes", "orders") in errors
    assert "number" in errors[("body", "attributes", "orders")]
    assert ("body", "attributes", "signup") in errors
    # Nothing was written.
    assert client.get("/api/v1/contacts/C-2", headers=org.headers).status_code == 404


def test_bad_fields_are_named(client, org):
    response = client.post("/api/v1/contacts", json={
        "external_id": "C-3", "email": "not-an-email", "phone": "12", "lifecycle_stage": "x",
        "language": "fr", "colour": "red"}, headers=org.headers)
    assert response.status_code == 422
    fields = [e["loc"][-1] for e in response.json()["detail"]]
    assert "colour" in fields  # an unknown field is refused, not dropped
    response = client.post("/api/v1/contacts", json={
        "external_id": "C-3", "email": "not-an-email", "phone": "12", "lifecycle_stage": "x",
        "language": "fr"}, headers=org.headers)
    fields = {e["loc"][-1] for e in response.json()["detail"]}
    assert fields == {"email", "phone", "lifecycle_stage", "language"}


def test_explicit_definition_fixes_the_type(client, org):
    response = client.post("/api/v1/contact-attributes", json={
        "key": "renewal", "type": "date", "label": "续约日期"}, headers=org.headers)
    assert response.status_code == 201
    bad = client.post("/api/v1/contacts", json={"external_id": "x", "attributes": {
        "renewal": 5}}, headers=org.headers)
    assert bad.status_code == 422
    ok = post(client, org, {"external_id": "x", "attributes": {"renewal": "2026-12-01"}})
    assert ok["attributes"]["renewal"] == "2026-12-01"
    # The type cannot change once contacts hold values.
    refused = client.patch("/api/v1/contact-attributes/renewal", json={"type": "string"},
                           headers=org.headers)
    assert refused.status_code == 422


def test_batch_is_all_or_nothing_and_lists_every_problem(client, org):
    body = {"contacts": [
        {"external_id": "B-1", "attributes": {"score": 1}},
        {"external_id": "B-2", "email": "bad"},
        {"external_id": "B-3", "attributes": {"score": "high"}},
    ]}
    response = client.post("/api/v1/contacts/batch", json=body, headers=org.headers)
    assert response.status_code == 422
    locs = sorted(tuple(e["loc"]) for e in response.json()["detail"])
    assert locs == [("body", "contacts", 1, "email"),
                    ("body", "contacts", 2, "attributes", "score")]
    assert client.get("/api/v1/contacts/B-1", headers=org.headers).status_code == 404
    body["contacts"][1]["email"] = "b2@example.com"
    body["contacts"][2]["attributes"]["score"] = 7
    response = client.post("/api/v1/contacts/batch", json=body, headers=org.headers)
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 3
    response = client.post("/api/v1/contacts/batch", json=body, headers=org.headers)
    assert response.json() | {"items": []} == {"created": 0, "updated": 3, "items": []}


def test_list_search_filter_and_paginate(client, org):
    for i in range(12):
        post(client, org, {"external_id": f"L-{i:02d}", "email": f"user{i}@shop.cn",
                           "lifecycle_stage": "retention" if i % 2 else "acquisition",
                           "tags": ["odd"] if i % 2 else []})
    page = client.get("/api/v1/contacts", params={"limit": 5}, headers=org.headers).json()
    assert page["total"] == 12 and len(page["items"]) == 5
    found = client.get("/api/v1/contacts", params={"q": "USER1"}, headers=org.headers).json()
    assert {c["external_id"] for c in found["items"]} == {"L-01", "L-10", "L-11"}
    odd = client.get("/api/v1/contacts", params={"tag": "odd"}, headers=org.headers).json()
    assert odd["total"] == 6
    stage = client.get("/api/v1/contacts", params={"lifecycle_stage": "acquisition"},
                       headers=org.headers).json()
    assert stage["total"] == 6
    percent = client.get("/api/v1/contacts", params={"q": "%"}, headers=org.headers).json()
    assert percent["total"] == 0  # LIKE wildcards are matched literally


def test_patch_and_delete(client, org):
    post(client, org, {"external_id": "P-1", "email": "a@b.cn", "attributes": {"n": 1}})
    response = client.patch("/api/v1/contacts/P-1", json={"email": None, "attributes": {
        "n": 2}}, headers=org.headers)
    assert response.status_code == 200
    assert response.json()["email"] is None and response.json()["attributes"] == {"n": 2}
    assert client.patch("/api/v1/contacts/nope", json={}, headers=org.headers).status_code == 404
    assert client.delete("/api/v1/contacts/P-1", headers=org.headers).status_code == 204
    assert client.get("/api/v1/contacts/P-1", headers=org.headers).status_code == 404


def test_other_org_sees_nothing(client, org, make_org):
    post(client, org, {"external_id": "secret", "attributes": {"plan": "pro"}})
    other = make_org("Other")
    assert client.get("/api/v1/contacts/secret", headers=other.headers).status_code == 404
    assert client.patch("/api/v1/contacts/secret", json={"name": "x"},
                        headers=other.headers).status_code == 404
    assert client.delete("/api/v1/contacts/secret", headers=other.headers).status_code == 404
    assert client.get("/api/v1/contacts", headers=other.headers).json()["total"] == 0
    assert client.get("/api/v1/contact-attributes", headers=other.headers).json() == []
    # The same external id in the other org is a different contact.
    mine = post(client, other, {"external_id": "secret"})
    assert mine["attributes"] == {}


def test_permissions(client, org, role_key):
    viewer = role_key(org.org_id, Role.viewer)
    assert client.get("/api/v1/contacts", headers=viewer).status_code == 200
    assert client.post("/api/v1/contacts", json={"external_id": "v"},
                       headers=viewer).status_code == 403
    assert client.get("/api/v1/contacts").status_code == 401


def test_response_ingest_upserts_contact_through_the_same_rules(client, org, survey):
    post(client, org, {"external_id": "R-1", "attributes": {"orders": 2}})
    response = client.post(f"/api/v1/surveys/{survey['id']}/responses", json={
        "score": 9, "contact": {"external_id": "R-1", "attributes": {"orders": "5"}}},
        headers=org.headers)
    assert response.status_code == 201, response.text
    contact = client.get("/api/v1/contacts/R-1", headers=org.headers).json()
    assert contact["attributes"]["orders"] == 5  # text coerced to the defined number type


def test_response_with_a_contact_value_of_the_wrong_type_is_a_422(client, org, survey):
    post(client, org, {"external_id": "R-2", "attributes": {"orders": 2}})
    response = client.post(f"/api/v1/surveys/{survey['id']}/responses", json={
        "score": 9, "contact": {"external_id": "R-2", "attributes": {"orders": "many"}}},
        headers=org.headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "contact", "attributes", "orders"]
