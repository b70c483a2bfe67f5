"""The rule editor page: who may open it, what it hands the script, tenancy."""

from __future__ import annotations

import json
import re

from npsloop.accounts.models import Role
from tests.plans.test_plan_pages import login

DATA = re.compile(r'<script type="application/json" id="rule-editor-data">(.*?)</script>', re.S)


def _rule(client, org) -> str:
    body = {"name": "Detractors", "conditions": [{"field": "category", "values": ["detractor"]}],
            "actions": {"tags": ["follow-up"]}}
    response = client.post("/api/v1/rules", json=body, headers=org.headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_editor_hands_the_script_the_rule_and_the_choices(client, org, survey, make_user):
    rule_id = _rule(client, org)
    admin = make_user(org.org_id, Role.admin)
    login(client, admin)
    listing = client.get("/tickets/rules")
    assert f"/tickets/rules/{rule_id}/edit" in listing.text and "/tickets/rules/new" in listing.text
    page = client.get(f"/tickets/rules/{rule_id}/edit")
    assert page.status_code == 200
    data = json.loads(DATA.search(page.text).group(1))
    assert data["rule"]["id"] == rule_id and data["csrf"]
    assert {"price", "delivery"} <= set(data["drivers"])
    assert [s["id"] for s in data["surveys"]] == [survey["id"]]
    assert "score" in data["fields"] and data["sla_defaults"]["P1"] == [4.0, 48.0]
    assert data["strings"]["tickets.editor.save"]
    assert client.get("/tickets/rules/new").status_code == 200


def test_agents_cannot_edit_and_other_orgs_get_404(client, org, make_org, make_user):
    rule_id = _rule(client, org)
    agent = make_user(org.org_id, Role.agent)
    login(client, agent)
    assert client.get("/tickets/rules/new").status_code == 403
    assert "/tickets/rules/new" not in client.get("/tickets/rules").text
    client.cookies.clear()
    other = make_org("Other")
    login(client, other.owner_email)
    assert client.get(f"/tickets/rules/{rule_id}/edit").status_code == 404
