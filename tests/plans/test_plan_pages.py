"""Plan pages as a browser without JavaScript uses them: list, form, effect view, tasks,
validation errors, CSRF, roles and tenancy, in both languages."""

from __future__ import annotations

import re
from datetime import date, timedelta
from urllib.parse import urlencode

import pytest

from npsloop.core.i18n import catalogs
from tests.analytics.helpers import add_response
from tests.plans.test_effect import at

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def post_form(client, url: str, fields: dict, **kwargs):
    return client.post(url, content=urlencode(fields, doseq=True).encode(),
                       headers={"Content-Type": "application/x-www-form-urlencoded"}, **kwargs)


def login(client, email: str, password: str = "password-123") -> None:
    response = post_form(client, "/login", {"email": email, "password": password},
                         follow_redirects=False)
    assert response.status_code == 303, response.text


def csrf(client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return CSRF.search(page.text).group(1)


def no_raw_keys(text: str) -> None:
    keys = [k for k in catalogs()["en"] if k.startswith(("plans.", "referrals.", "lifecycle."))]
    leaked = [k for k in keys if k in text]
    assert not leaked, leaked


def new_plan(client, survey, **fields) -> str:
    token = csrf(client, "/plans/new")
    start = (date.today() - timedelta(days=20)).isoformat()
    data = {"csrf_token": token, "title": "Faster couriers", "owner": "Ops",
            "status": "in_progress", "start_date": start, "link": f"survey:{survey['id']}",
            "target_nps": "25", "window_before_days": "20", "window_after_days": "20",
            "tasks": "Sign contract\n\nTrain drivers\n", **fields}
    response = post_form(client, "/plans/new", data, follow_redirects=False)
    assert response.status_code == 303, response.text
    return response.headers["location"].rsplit("/", 1)[1]


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_create_and_view_a_plan_with_its_effect(client, db, org, survey, lang):
    login(client, org.owner_email)
    start = date.today() - timedelta(days=20)
    for index in range(40):
        add_response(db, org.org_id, survey["id"], 3 if index % 2 else 8,
                     at=at(start - timedelta(days=1 + index % 15)))
        add_response(db, org.org_id, survey["id"], 10, at=at(start + timedelta(days=index % 15)))
    db.commit()
    plan_id = new_plan(client, survey)
    page = client.get(f"/plans/{plan_id}?lang={lang}")
    assert page.status_code == 200
    no_raw_keys(page.text)
    assert 'data-verdict="improved"' in page.text
    assert 'id="plan-trend-chart"' in page.text and '"start_week"' in page.text
    assert "Sign contract" in page.text and "Train drivers" in page.text
    word = "Significant" if lang == "en" else "显著"
    assert word in page.text
    listing = client.get(f"/plans?lang={lang}")
    assert listing.status_code == 200 and "Faster couriers" in listing.text
    no_raw_keys(listing.text)
    assert 'data-summary="improved"' in listing.text
    improved = client.get("/plans?verdict=improved").text
    assert "Faster couriers" in improved
    assert "Faster couriers" not in client.get("/plans?verdict=no_change").text


def test_form_errors_are_shown_per_field(client, org, survey):
    login(client, org.owner_email)
    token = csrf(client, "/plans/new")
    response = post_form(client, "/plans/new", {
        "csrf_token": token, "title": "", "start_date": "2026-13-01", "link": "survey:nope",
        "target_nps": "900"})
    assert response.status_code == 422
    for field in ("title", "start_date", "target_nps"):
        assert f'id="err-{field}"' in response.text, field
    response = post_form(client, "/plans/new", {
        "csrf_token": token, "title": "T", "start_date": "2026-03-01", "link": "survey:nope"})
    assert response.status_code == 422 and 'id="err-link"' in response.text


def test_edit_tasks_windows_and_delete(client, org, survey):
    login(client, org.owner_email)
    plan_id = new_plan(client, survey)
    token = csrf(client, f"/plans/{plan_id}/edit")
    edited = post_form(client, f"/plans/{plan_id}/edit", {
        "csrf_token": token, "title": "Renamed plan", "start_date": "2026-01-10",
        "end_date": "", "status": "done", "link": "driver:delivery", "target_nps": "",
        "window_before_days": "30", "window_after_days": "45"}, follow_redirects=False)
    assert edited.status_code == 303
    page = client.get(f"/plans/{plan_id}?lang=en")
    assert "Renamed plan" in page.text and "Driver rating" in page.text
    assert 'value="30"' in page.text and 'value="45"' in page.text
    # Windows chosen on the page; bad ones fall back with a message.
    assert 'value="14"' in client.get(f"/plans/{plan_id}?before_days=14").text
    assert client.get(f"/plans/{plan_id}?before_days=3").status_code == 422

    add = post_form(client, f"/plans/{plan_id}/tasks", {"csrf_token": token, "title": "Audit",
                                                        "due_date": "2026-02-01"},
                    follow_redirects=False)
    assert add.status_code == 303
    plan = client.get(f"/api/v1/plans/{plan_id}").json()
    task = next(t for t in plan["tasks"] if t["title"] == "Audit")
    assert task["due_date"] == "2026-02-01" and task["done"] is False
    post_form(client, f"/plans/{plan_id}/tasks/{task['id']}/toggle", {"csrf_token": token})
    plan = client.get(f"/api/v1/plans/{plan_id}").json()
    assert next(t for t in plan["tasks"] if t["id"] == task["id"])["done"] is True
    post_form(client, f"/plans/{plan_id}/tasks/{task['id']}/delete", {"csrf_token": token})
    assert "Audit" not in [t["title"] for t in client.get(f"/api/v1/plans/{plan_id}").json()[
        "tasks"]]
    deleted = post_form(client, f"/plans/{plan_id}/delete", {"csrf_token": token},
                        follow_redirects=False)
    assert deleted.status_code == 303
    assert client.get(f"/plans/{plan_id}").status_code == 404


def test_csrf_roles_and_tenancy_on_pages(client, org, make_org, make_user, survey):
    login(client, org.owner_email)
    plan_id = new_plan(client, survey)
    assert post_form(client, f"/plans/{plan_id}/delete", {}).status_code == 403
    assert post_form(client, f"/plans/{plan_id}/delete",
                     {"csrf_token": "forged"}).status_code == 403
    client.cookies.clear()
    viewer = make_user(org.org_id, "viewer")
    login(client, viewer)
    page = client.get(f"/plans/{plan_id}")
    assert page.status_code == 200 and "/edit" not in page.text and "New plan" not in page.text
    assert client.get("/plans/new").status_code == 403
    assert "/tasks" not in page.text  # no task forms for a viewer
    client.cookies.clear()
    other = make_org("Other")
    login(client, other.owner_email)
    assert client.get(f"/plans/{plan_id}").status_code == 404
    client.cookies.clear()
    assert client.get("/plans", follow_redirects=False).status_code == 303


def test_empty_list_invites_to_create(client, org):
    login(client, org.owner_email)
    page = client.get("/plans?lang=en")
    assert "No action plans yet" in page.text and 'href="/plans/new"' in page.text
