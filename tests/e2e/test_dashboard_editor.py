"""An analyst builds a dashboard in headless Chromium: creates it with the form, adds a
widget from the catalogue, moves it up, widens a widget and removes one (reports.js through
the JSON API, under the app's CSP without inline scripts); the saved grid is what was done."""

from __future__ import annotations

import uuid

import pytest

from npsloop.accounts.service import create_user
from npsloop.reports.models import Dashboard

pytestmark = pytest.mark.e2e


def kinds(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.eval_on_selector_all(
        ".rp-widget", "nodes => nodes.map(n => n.dataset.kind + ':' + n.dataset.width)")


def test_analyst_edits_a_dashboard_in_the_browser(browser, live_server):
    email = f"analyst-{uuid.uuid4().hex[:6]}@example.test"
    with live_server.factory() as session:
        create_user(session, org_id=live_server.org_id, email=email, password="password-123",
                    role="analyst")
        session.commit()
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("dialog", lambda dialog: dialog.accept())
    base = live_server.base_url
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", "password-123")
    page.click("button[type=submit]")
    page.goto(f"{base}/dashboards?lang=en")
    page.fill("form.rp-new input[name=name]", "Browser-made")
    page.click("form.rp-new button[type=submit]")
    page.wait_for_url("**/dashboards/*?edit=1")
    assert kinds(page) == ["scorecard:4", "trend:8", "nps_by:6", "movers:6"]

    def act(action) -> None:  # type: ignore[no-untyped-def]
        with page.expect_navigation():
            action()
        page.wait_for_selector(".rp-widget")

    page.select_option("[data-form=add] select[name=kind]", "distribution")
    page.select_option("[data-form=add] select[name=by]", "language")
    act(lambda: page.click("[data-form=add] button[type=submit]"))
    assert kinds(page)[-1] == "distribution:6"
    act(lambda: page.locator(".rp-widget").last.locator("[data-action=up]").click())
    act(lambda: page.locator(".rp-widget").first.locator("[data-action=resize]").click())
    act(lambda: page.locator(".rp-widget").nth(1).locator("[data-action=remove]").click())
    assert kinds(page) == ["scorecard:6", "nps_by:6", "distribution:6", "movers:6"]
    page.wait_for_selector(".rp-widget[data-loaded='1']")
    assert errors == []
    with live_server.factory() as session:
        saved = session.query(Dashboard).filter(Dashboard.name == "Browser-made").one()
        assert [(w.kind, w.width, w.options) for w in saved.widgets] == [
            ("scorecard", 6, {}), ("nps_by", 6, {"group_by": "touchpoint"}),
            ("distribution", 6, {"by": "language"}),
            ("movers", 6, {"dimensions": ["touchpoint", "journey_stage", "channel",
                                          "segment", "topic"]})]
    context.close()
