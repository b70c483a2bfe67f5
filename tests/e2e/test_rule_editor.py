"""An admin builds a rule in the editor in headless Chromium: tests it on the stored
responses, sees a validation error named by field, saves it, and edits it again."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select

from npsloop.accounts.models import Role
from npsloop.accounts.service import create_api_key, create_user
from npsloop.responses.models import Response
from npsloop.tickets.models import Rule

pytestmark = pytest.mark.e2e


def _counts(live_server) -> tuple[int, int]:
    """Detractors, and detractors scoring 0-1, among the organisation's responses."""
    with live_server.factory() as session:
        scores = list(session.scalars(select(Response.score).where(
            Response.org_id == live_server.org_id, Response.category == "detractor")))
    return len(scores), sum(1 for s in scores if s <= 1)


def test_admin_builds_tests_and_saves_a_rule(browser, live_server, make_live_survey):
    from playwright.sync_api import expect

    survey_id, _ = make_live_survey()
    email = f"admin-{uuid.uuid4().hex[:6]}@example.test"
    with live_server.factory() as session:
        create_user(session, org_id=live_server.org_id, email=email, password="password-123",
                    role=Role.admin)
        _, key = create_api_key(session, org_id=live_server.org_id, name="e2e", role=Role.admin)
        session.commit()
    scores = [1, 2, 5, 9, 10, 8]
    for i, score in enumerate(scores):
        answer = httpx.post(f"{live_server.base_url}/api/v1/surveys/{survey_id}/responses",
                            headers={"Authorization": f"Bearer {key}"},
                            json={"score": score, "comment": f"comment {i}",
                                  "idempotency_key": f"rule-e2e-{uuid.uuid4().hex}"})
        assert answer.status_code == 201, answer.text

    context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(8_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.base_url}/login?lang=en")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", "password-123")
    page.click("button[type=submit]")
    page.goto(f"{live_server.base_url}/tickets/rules")
    page.get_by_role("link", name="New rule").click()
    expect(page.get_by_role("heading", name="New rule")).to_be_visible()

    # The default condition is "category is detractor". The live server's organisation is
    # shared with other browser tests, so the expected count comes from the database.
    detractors, lowest = _counts(live_server)
    page.click("#re-test")
    expect(page.locator("#re-test-result")).to_contain_text(f"matched {detractors} of")
    expect(page.locator("#re-test-items li")).to_have_count(min(detractors, 10))

    # No name: the API's 422 is shown, naming the field.
    page.click("#re-save")
    expect(page.locator("#re-errors")).to_contain_text("name")

    page.fill("input[name=name]", "Detractors to the service team")
    page.locator("fieldset.re-action select").first.select_option("P1")
    page.click("#re-save")
    page.wait_for_url("**/tickets/rules")
    expect(page.get_by_text("Detractors to the service team")).to_be_visible()
    with live_server.factory() as session:
        rule = session.scalars(select(Rule).where(Rule.org_id == live_server.org_id,
                                                  Rule.name.startswith("Detractors"))).one()
        assert rule.conditions == [{"field": "category", "op": "in", "values": ["detractor"]}]
        assert rule.actions["ticket"]["priority"] == "P1"
        rule_id = rule.id

    # Edit: narrow it with a score condition and save again.
    page.goto(f"{live_server.base_url}/tickets/rules/{rule_id}/edit?lang=en")
    page.get_by_role("button", name="+ Add condition").click()
    last = page.locator(".re-cond").last
    last.locator("select").first.select_option("score")
    last.locator("input[type=number]").nth(1).fill("1")
    page.click("#re-test")
    expect(page.locator("#re-test-result")).to_contain_text(f"matched {lowest} of")
    page.click("#re-save")
    page.wait_for_url("**/tickets/rules")
    with live_server.factory() as session:
        rule = session.get(Rule, rule_id)
        assert rule.conditions[1] == {"field": "score", "min": 0, "max": 1}
    assert not errors, errors
    context.close()
