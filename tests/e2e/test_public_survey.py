"""A respondent opens a public survey link in headless Chromium, taps a score, sees the
follow-up for their category, writes a comment, submits, lands on the thank-you page, and
exactly one complete response is in the database."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.e2e

PROMOTER_FOLLOWUP = "Great! What do you like most about us?"
DETRACTOR_FOLLOWUP_ZH = "很抱歉让您失望了。主要是哪些方面没有做好?"


def _is_partial_post(response) -> bool:  # type: ignore[no-untyped-def]
    return response.request.method == "POST" and response.url.endswith("/responses")


def _watch_errors(page) -> list[str]:  # type: ignore[no-untyped-def]
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def test_promoter_taps_9_comments_and_submits(browser, live_server, make_live_survey):
    from playwright.sync_api import expect

    survey_id, token = make_live_survey()
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(8_000)
    errors = _watch_errors(page)
    page.goto(f"{live_server.base_url}/s/{token}?lang=en")
    expect(page.get_by_text("How likely are you to recommend us")).to_be_visible()
    expect(page.locator("#comment")).to_be_hidden()  # follow-up appears after the score

    with page.expect_response(_is_partial_post) as partial:
        page.locator("label.sv-score:has(input[value='9'])").click()
    assert partial.value.status == 201
    [saved] = live_server.responses(survey_id)
    assert (saved.score, saved.status) == (9, "partial")  # saved the moment it was tapped

    expect(page.get_by_text(PROMOTER_FOLLOWUP)).to_be_visible()
    expect(page.get_by_text("We're sorry. What disappointed you most?")).to_be_hidden()
    # A single row of 11 buttons on a desktop.
    boxes = [page.locator(f"label.sv-score:has(input[value='{n}'])").bounding_box()
             for n in (0, 10)]
    assert boxes[0]["y"] == boxes[1]["y"]

    comment = "Fast delivery and friendly support, thank you!"
    page.locator("#comment").fill(comment)
    page.locator(".sv-submit").click()
    page.wait_for_url(re.compile(r"/thanks\?lang=en&r="))
    expect(page.get_by_role("heading", name="Thank you for your feedback!")).to_be_visible()
    expect(page.get_by_text("We're delighted you would recommend us.")).to_be_visible()

    rows = live_server.responses(survey_id)
    assert len(rows) == 1
    done = rows[0]
    assert (done.score, done.category, done.comment, done.status, done.channel,
            done.language) == (9, "promoter", comment, "complete", "link", "en")
    assert errors == []
    context.close()


def test_phone_detractor_taps_3_and_double_submits_once(browser, live_server,
                                                          make_live_survey):
    from playwright.sync_api import expect

    survey_id, token = make_live_survey()
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
        has_touch=True, locale="zh-CN",
    )
    page = context.new_page()
    page.set_default_timeout(8_000)
    errors = _watch_errors(page)
    page.goto(f"{live_server.base_url}/s/{token}?ch=qr")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")

    # 0-10 wrap to two rows of large tap targets on a phone.
    first = page.locator("label.sv-score:has(input[value='0'])").bounding_box()
    last = page.locator("label.sv-score:has(input[value='10'])").bounding_box()
    assert last["y"] > first["y"]
    assert first["width"] >= 44 and first["height"] >= 44

    with page.expect_response(_is_partial_post) as partial:
        page.locator("label.sv-score:has(input[value='3'])").tap()
    assert partial.value.status == 201
    expect(page.get_by_text(DETRACTOR_FOLLOWUP_ZH)).to_be_visible()
    expect(page.get_by_text("太好了!您最喜欢我们哪一点?")).to_be_hidden()

    page.locator("label.sv-star:has(input[name=driver_delivery][value='1'])").tap()
    page.locator("#comment").fill("快递晚了三天,客服也联系不上。")
    page.locator(".sv-submit").dblclick()
    page.wait_for_url(re.compile(r"/thanks\?lang=zh-CN&r="))
    expect(page.get_by_role("heading", name="感谢您的反馈!")).to_be_visible()
    expect(page.get_by_text("很抱歉这次没有让您满意")).to_be_visible()

    rows = live_server.responses(survey_id)
    assert len(rows) == 1
    done = rows[0]
    assert (done.score, done.category, done.status, done.channel, done.language) == (
        3, "detractor", "complete", "qr", "zh-CN")
    assert done.comment == "快递晚了三天,客服也联系不上。"
    assert {a.question_key: a.number_value for a in done.answers} == {"delivery": 1.0}

    # Back and submit again: the key in sessionStorage makes it the same response.
    page.go_back()
    page.locator(".sv-submit").click()
    page.wait_for_url(re.compile(r"/thanks\?"))
    assert len(live_server.responses(survey_id)) == 1
    assert errors == []
    context.close()
