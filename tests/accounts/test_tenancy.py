"""An API key of organisation B never sees or changes organisation A's data."""


def test_other_org_gets_404_and_changes_nothing(client, make_org):
    org_a, org_b = make_org("A"), make_org("B")
    survey = client.post("/api/v1/surveys", headers=org_a.headers,
                         json={"name": "A's survey", "status": "live", "drivers": ["price"]}).json()
    sid = survey["id"]
    assert client.post(f"/api/v1/surveys/{sid}/responses", headers=org_a.headers,
                       json={"score": 10, "comment": "secret"}).status_code == 201

    b = org_b.headers
    assert client.get(f"/api/v1/surveys/{sid}", headers=b).status_code == 404
    assert client.patch(f"/api/v1/surveys/{sid}", headers=b, json={"name": "pwned"}
                        ).status_code == 404
    assert client.post(f"/api/v1/surveys/{sid}/responses", headers=b, json={"score": 0}
                       ).status_code == 404
    assert client.get(f"/api/v1/surveys/{sid}/responses", headers=b).status_code == 404
    assert client.get(f"/api/v1/stats/nps?survey_id={sid}", headers=b).status_code == 404
    assert client.get("/api/v1/surveys", headers=b).json()["total"] == 0
    assert client.get("/api/v1/stats/nps", headers=b).json()["n"] == 0
    keys_a = client.get("/api/v1/api-keys", headers=org_a.headers).json()
    assert client.delete(f"/api/v1/api-keys/{keys_a[0]['id']}", headers=b).status_code == 404

    # Nothing changed for A.
    again = client.get(f"/api/v1/surveys/{sid}", headers=org_a.headers).json()
    assert again["name"] == "A's survey"
    stats = client.get(f"/api/v1/stats/nps?survey_id={sid}", headers=org_a.headers).json()
    assert stats["n"] == 1 and stats["nps"] == 100.0
    assert client.get("/api/v1/me", headers=org_a.headers).status_code == 200


def test_same_external_id_in_two_orgs_are_two_contacts(client, make_org):
    orgs = [make_org("A"), make_org("B")]
    for index, o in enumerate(orgs):
        s = client.post("/api/v1/surveys", headers=o.headers, json={"name": "s"}).json()
        r = client.post(f"/api/v1/surveys/{s['id']}/responses", headers=o.headers, json={
            "score": 5, "contact": {"external_id": "same", "attributes": {"org": index}}})
        assert r.status_code == 201
        assert r.json()["contact_attributes"] == {"org": index}
