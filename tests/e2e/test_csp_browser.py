"""Headless Chromium against a real server: the key pages raise no Content-Security-Policy
violation (no inline script or handler slipped in) and still work: charts draw, the survey
page answers taps. Screenshots go to $NPSLOOP_SCREENSHOTS (default: the test's tmp dir)."""

from __future__ import annotations

import os
import random
import uuid
from pathlib import Path

import pytest

from npsloop.accounts.service import create_user
from npsloop.responses.schemas import ResponseCreate
from npsloop.responses.service import ingest
from npsloop.surveys.models import Survey

PASSWORD = "password-123"


@pytest.fixture(scope="module")
def owner(live_server):
    email = f"csp-{uuid.uuid4().hex[:6]}@example.test"
    with live_server.factory() as session:
        create_user(session, org_id=live_server.org_id, email=email, password=PASSWORD,
                    role="owner")
        session.commit()
    return email


def _seed(live_server, survey_id: str) -> None:
    rng = random.Random(7)
    with live_server.factory() as session:
        survey = session.get(Survey, survey_id)
        for n in range(40):
            score = rng.choice([0, 3, 6, 7, 8, 9, 9, 10, 10])
            ingest(session, survey=survey, data=ResponseCreate(
                score=score, comment=f"评论 {n} <script>alert(1)</script>",
                drivers={"price": rng.randint(1, 5), "delivery": rng.randint(1, 5)}))


def test_key_pages_have_no_csp_violations(browser, live_server, make_live_survey,
                                          owner, tmp_path):
    survey_id, token = make_live_survey(name="CSP check")
    _seed(live_server, survey_id)
    shots = Path(os.environ.get("NPSLOOP_SCREENSHOTS", tmp_path))
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(f"{page.url}: {msg.text}")
            if msg.type == "error" or "Content Security Policy" in msg.text else None)
    page.on("pageerror", lambda exc: problems.append(f"{page.url}: {exc}"))
    page.goto(f"{live_server.base_url}/login")
    page.fill("input[name=email]", owner)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.base_url}/")

    page.goto(f"{live_server.base_url}/?survey_id={survey_id}")
    page.wait_for_load_state("networkidle")
    # ECharts draws into a canvas: the charts ran under script-src 'self'.
    page.wait_for_selector("canvas", timeout=15_000)
    assert page.locator("canvas").count() >= 2
    page.screenshot(path=str(shots / "csp-dashboard.png"), full_page=False)
    for path in ("/tickets", "/contacts", f"/surveys/{survey_id}", "/plans", "/text"):
        page.goto(f"{live_server.base_url}{path}")
        page.wait_for_load_state("networkidle")
    survey_page = context.new_page()
    survey_page.on("console", lambda msg: problems.append(f"survey: {msg.text}")
                   if msg.type == "error" or "Content Security Policy" in msg.text else None)
    survey_page.goto(f"{live_server.base_url}/s/{token}?lang=en")
    # survey.js saves the tap at once (a partial answer): the script ran under the CSP.
    with survey_page.expect_response(lambda r: r.url.endswith("/responses")) as saved:
        survey_page.locator("label.sv-score:has(input[value='9'])").click()
    assert saved.value.status == 201
    survey_page.screenshot(path=str(shots / "csp-survey.png"))
    context.close()
    assert not problems, "\n".join(problems)
