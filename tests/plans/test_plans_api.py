"""Plans CRUD, tasks, validation (422 naming the field), tenancy (404) and roles."""

from __future__ import annotations

from datetime import date

import pytest


def body(survey: dict, **extra) -> dict:
    data = {
        "title": "Courier switch in East China", "description": "New cold-chain partner",
        "owner": "Li Na", "status": "in_progress", "start_date": "2026-03-01",
        "end_date": "2026-06-30", "target_nps": 25, "link_kind": "survey",
        "link_value": survey["id"],
        "tasks": [{"title": "Sign contract", "done": True, "due_date": "2026-03-05"},
                  {"title": "Train drivers"}],
    }
    data.update(extra)
    return data


def test_crud_round_trip(client, org, survey):
    created = client.post("/api/v1/plans", json=body(survey), headers=org.headers)
    assert created.status_code == 201, created.text
    plan = created.json()
    assert plan["link_label"] == "Relationship Q1"
    assert [t["title"] for t in plan["tasks"]] == ["Sign contract", "Train drivers"]
    assert plan["tasks_done"] == 1 and plan["window_before_days"] == 90
    plan_id = plan["id"]

    got = client.get(f"/api/v1/plans/{plan_id}", headers=org.headers).json()
    assert got["title"] == "Courier switch in East China" and got["end_date"] == "2026-06-30"

    patched = client.patch(f"/api/v1/plans/{plan_id}?lang=en", headers=org.headers, json={
        "status": "done", "end_date": None, "link_kind": "driver", "link_value": "delivery",
        "tasks": [{"title": "Only task", "done": False}]})
    assert patched.status_code == 200, patched.text
    data = patched.json()
    assert data["status"] == "done" and data["end_date"] is None
    assert data["link_kind"] == "driver" and data["link_label"] == "Delivery"
    assert [t["title"] for t in data["tasks"]] == ["Only task"]

    task_id = data["tasks"][0]["id"]
    toggled = client.patch(f"/api/v1/plans/{plan_id}/tasks/{task_id}", json={"done": True},
                           headers=org.headers)
    assert toggled.status_code == 200 and toggled.json()["done"] is True
    added = client.post(f"/api/v1/plans/{plan_id}/tasks", headers=org.headers,
                        json={"title": "Follow up", "due_date": "2026-07-01"})
    assert added.status_code == 201
    assert client.delete(f"/api/v1/plans/{plan_id}/tasks/{task_id}",
                         headers=org.headers).status_code == 204
    tasks = client.get(f"/api/v1/plans/{plan_id}", headers=org.headers).json()["tasks"]
    assert [t["title"] for t in tasks] == ["Follow up"]

    listing = client.get("/api/v1/plans?status=done", headers=org.headers).json()
    assert listing["total"] == 1 and listing["items"][0]["id"] == plan_id
    assert client.get("/api/v1/plans?status=planned", headers=org.headers).json()["total"] == 0

    assert client.delete(f"/api/v1/plans/{plan_id}", headers=org.headers).status_code == 204
    assert client.get(f"/api/v1/plans/{plan_id}", headers=org.headers).status_code == 404


@pytest.mark.parametrize(("change", "field"), [
    ({"title": ""}, "title"),
    ({"status": "paused"}, "status"),
    ({"start_date": "2026-02-30"}, "start_date"),
    ({"end_date": "2026-02-01"}, "end_date"),  # before the start
    ({"target_nps": 150}, "target_nps"),
    ({"link_kind": "weather"}, "link_kind"),
    ({"link_value": "0" * 32}, "link_value"),  # no such survey
    ({"link_kind": "driver", "link_value": "parking"}, "link_value"),
    ({"link_kind": "touchpoint", "link_value": "checkout"}, "link_value"),
    ({"link_kind": "segment", "link_value": "nope"}, "link_value"),
    ({"link_kind": "topic", "link_value": "nope"}, "link_value"),
    ({"window_before_days": 3}, "window_before_days"),
    ({"tasks": [{"title": ""}]}, "tasks"),
    ({"colour": "red"}, "colour"),
])
def test_bad_input_is_422_naming_the_field(client, org, survey, change, field):
    response = client.post("/api/v1/plans", json=body(survey, **change), headers=org.headers)
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"][0]["loc"]


def test_patch_refuses_nulls_and_bad_links(client, org, survey):
    plan_id = client.post("/api/v1/plans", json=body(survey), headers=org.headers).json()["id"]
    for change, field in (({"start_date": None}, "start_date"),
                          ({"link_value": "missing"}, "link_value"),
                          ({"start_date": "2026-07-15"}, "end_date")):
        response = client.patch(f"/api/v1/plans/{plan_id}", json=change, headers=org.headers)
        assert response.status_code == 422, change
        assert response.json()["detail"][0]["loc"][-1] == field
    # Nothing was changed by the refused updates.
    assert client.get(f"/api/v1/plans/{plan_id}", headers=org.headers).json()[
        "start_date"] == "2026-03-01"


def test_another_organisations_plan_is_404(client, org, make_org, survey):
    plan_id = client.post("/api/v1/plans", json=body(survey), headers=org.headers).json()["id"]
    other = make_org("Other")
    for method, path in (("get", f"/api/v1/plans/{plan_id}"),
                         ("get", f"/api/v1/plans/{plan_id}/effect"),
                         ("patch", f"/api/v1/plans/{plan_id}"),
                         ("delete", f"/api/v1/plans/{plan_id}"),
                         ("post", f"/api/v1/plans/{plan_id}/tasks")):
        kwargs = {"json": {"title": "x"}} if method in ("patch", "post") else {}
        response = getattr(client, method)(path, headers=other.headers, **kwargs)
        assert response.status_code == 404, (method, path)
    assert client.get("/api/v1/plans", headers=other.headers).json()["total"] == 0
    # Linking to another organisation's survey is refused like an unknown one.
    response = client.post("/api/v1/plans", json=body(survey), headers=other.headers)
    assert response.status_code == 422


def test_roles_viewer_reads_analyst_writes(client, org, survey, role_key):
    plan_id = client.post("/api/v1/plans", json=body(survey), headers=org.headers).json()["id"]
    viewer, agent, analyst = (role_key(org.org_id, r) for r in ("viewer", "agent", "analyst"))
    assert client.get("/api/v1/plans", headers=viewer).status_code == 200
    assert client.get(f"/api/v1/plans/{plan_id}/effect", headers=viewer).status_code == 200
    for headers in (viewer, agent):
        assert client.post("/api/v1/plans", json=body(survey), headers=headers).status_code == 403
        assert client.patch(f"/api/v1/plans/{plan_id}", json={"title": "x"},
                            headers=headers).status_code == 403
        assert client.delete(f"/api/v1/plans/{plan_id}", headers=headers).status_code == 403
    assert client.post("/api/v1/plans", json=body(survey), headers=analyst).status_code == 201
    assert client.patch(f"/api/v1/plans/{plan_id}", json={"title": "Renamed"},
                        headers=analyst).json()["title"] == "Renamed"
    assert client.get("/api/v1/plans").status_code == 401


def test_touchpoint_and_segment_links(client, org):
    survey = client.post("/api/v1/surveys", headers=org.headers, json={
        "name": "After delivery", "status": "live", "nps_type": "touchpoint",
        "touchpoint": "delivery"}).json()
    assert survey["touchpoint"] == "delivery"
    segment = client.post("/api/v1/segments", headers=org.headers, json={
        "name": "VIP", "rules": {"match": "all", "conditions": [
            {"field": "tags", "operator": "has_any", "value": ["vip"]}]}})
    assert segment.status_code == 201, segment.text
    today = date.today().isoformat()
    for kind, value in (("touchpoint", "delivery"), ("segment", segment.json()["id"])):
        created = client.post("/api/v1/plans", headers=org.headers, json={
            "title": f"By {kind}", "start_date": today, "link_kind": kind, "link_value": value})
        assert created.status_code == 201, created.text
        effect = client.get(f"/api/v1/plans/{created.json()['id']}/effect", headers=org.headers)
        assert effect.status_code == 200 and effect.json()["link_missing"] is False
