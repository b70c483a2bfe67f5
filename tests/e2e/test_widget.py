"""The web widget in headless Chromium, embedded cross-origin: the test page is opened at
http://localhost:<port> while the widget talks to http://127.0.0.1:<port>, so the site key's
allowed origin and the CORS answers are really exercised.

A visitor is identified, tracks an event a widget trigger listens to, sees the popup inside
the shadow root, answers 9 with the keyboard and a comment, sees the thanks and the referral
invitation; the response row is checked; a second event is refused by the recontact window.
On a 375 px phone in Chinese the popup fits, and closing it is recorded as dismissed."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from npsloop.contacts.models import Contact
from npsloop.distribution.models import Invitation
from npsloop.targeting.models import Trigger
from npsloop.widget.sitekeys import create_site_key

pytestmark = pytest.mark.e2e
COMMENT = "Checkout was quick and the courier was on time."


def _watch_errors(page) -> list[str]:  # type: ignore[no-untyped-def]
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


@pytest.fixture
def widget_site(live_server, make_live_survey):  # type: ignore[no-untyped-def]
    """A live survey, a widget trigger on order_paid and a site key for the localhost page."""
    survey_id, _ = make_live_survey()
    port = live_server.base_url.rsplit(":", 1)[1]
    page_origin = f"http://localhost:{port}"
    with live_server.factory() as session:
        key = create_site_key(session, org_id=live_server.org_id, name="E2E shop",
                              allowed_origins=[page_origin])
        session.add(Trigger(org_id=live_server.org_id, name="Paid", event_name="order_paid",
                            survey_id=survey_id, channel="widget", delay_seconds=0,
                            conditions=[], active=True))
        session.commit()
        plain = key.key

    def page_url(lang: str) -> str:
        query = urlencode({"key": plain, "host": live_server.base_url, "lang": lang})
        return f"{page_origin}/widget/test?{query}"

    return survey_id, page_url


def _contact_id(live_server, external_id: str) -> str:  # type: ignore[no-untyped-def]
    with live_server.factory() as session:
        return session.scalar(select(Contact.id).where(
            Contact.org_id == live_server.org_id, Contact.external_id == external_id))


def _invitations(live_server, contact_id: str) -> list[Invitation]:  # type: ignore[no-untyped-def]
    with live_server.factory() as session:
        return list(session.scalars(select(Invitation).where(
            Invitation.contact_id == contact_id)))


_SETTLED = ("() => document.querySelector('[data-npsloop]').shadowRoot.querySelector('.card')"
            ".getAnimations().length === 0")


def _ready(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_function("() => window.npsloop && window.npsloop.loaded === true")


def test_visitor_answers_9_in_the_popup_and_is_not_asked_again(browser, live_server,
                                                                widget_site):
    from playwright.sync_api import expect

    survey_id, page_url = widget_site
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(8_000)
    errors = _watch_errors(page)
    page.goto(page_url("en"))
    _ready(page)
    assert page.evaluate("npsloop('identify', 'e2e-buyer', {plan: 'pro'})")["show"] is False
    offer = page.evaluate("npsloop('track', 'order_paid', {amount: 120})")
    assert offer["show"] is True, offer

    dialog = page.get_by_role("dialog")  # inside the widget's shadow root
    expect(dialog.get_by_text("How likely are you to recommend")).to_be_visible()
    assert page.evaluate("document.querySelector('[data-npsloop]').shadowRoot !== null")
    # The page's own styles cannot reach inside: a global rule does not restyle the buttons.
    page.add_style_tag(content="button { background: rgb(255, 0, 0) !important; }")
    first = dialog.get_by_role("radio", name="0 out of 10", exact=True)
    assert "255, 0, 0" not in first.evaluate("b => getComputedStyle(b).backgroundColor")
    # Keyboard only: focus 0, arrow right nine times, Enter.
    first.focus()
    for _ in range(9):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    nine = dialog.get_by_role("radio", name="9 out of 10", exact=True)
    expect(nine).to_have_attribute("aria-checked", "true")
    expect(dialog.get_by_text("Great! What do you like most about us?")).to_be_visible()
    dialog.get_by_role("textbox").fill(COMMENT)
    page.screenshot(path="/tmp/widget-desktop.png")
    dialog.get_by_role("button", name="Send").click()
    expect(dialog.get_by_text("Thank you for your feedback!")).to_be_visible()
    invite_link = dialog.locator(".ref input")
    expect(invite_link).to_be_visible()
    assert "/r/" in invite_link.input_value()
    page.screenshot(path="/tmp/widget-desktop-thanks.png")

    [saved] = live_server.responses(survey_id)
    contact_id = _contact_id(live_server, "e2e-buyer")
    assert (saved.channel, saved.contact_id, saved.score, saved.comment, saved.status,
            saved.language) == ("widget", contact_id, 9, COMMENT, "complete", "en")
    [invitation] = _invitations(live_server, contact_id)
    assert (invitation.status, invitation.response_id) == ("completed", saved.id)
    assert invitation.opened_at is not None

    again = page.evaluate("npsloop('track', 'order_paid', {amount: 80})")
    assert again == {"show": False, "refusals": ["recontact_window"]}
    assert len(live_server.responses(survey_id)) == 1
    assert errors == []
    context.close()


def test_phone_popup_fits_375px_in_chinese_and_closing_is_dismissed(browser, live_server,
                                                                     widget_site):
    from playwright.sync_api import expect

    _, page_url = widget_site
    context = browser.new_context(viewport={"width": 375, "height": 667},
                                  device_scale_factor=2, is_mobile=True, has_touch=True,
                                  locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(8_000)
    errors = _watch_errors(page)
    page.goto(page_url("zh-CN"))
    _ready(page)
    page.evaluate("""window.addEventListener('npsloop:shown',
                     e => { window.shownStatus = e.detail.status; })""")
    page.evaluate("npsloop('identify', 'e2e-phone', {})")
    page.evaluate("npsloop('track', 'order_paid', {})")
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("您有多大可能向朋友或同事推荐")).to_be_visible()
    contact_id = _contact_id(live_server, "e2e-phone")
    page.wait_for_function(_SETTLED)  # measure after the slide-in animation
    box = dialog.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 375
    buttons = [dialog.get_by_role("radio", name=f"{n} 分(满分 10 分)", exact=True).bounding_box()
               for n in range(11)]
    assert all(b["x"] >= 0 and b["x"] + b["width"] <= 375 for b in buttons)
    assert len({round(b["y"]) for b in buttons}) == 1  # one row of 11
    assert min(b["height"] for b in buttons) >= 40  # a comfortable tap target
    page.wait_for_function("() => window.shownStatus === 'opened'")
    page.screenshot(path="/tmp/widget-phone.png")
    dismissed = page.evaluate("""() => new Promise(resolve => {
        window.addEventListener('npsloop:dismissed', e => resolve(e.detail.status));
        document.querySelector('[data-npsloop]').shadowRoot.querySelector('.close').click();
    })""")
    assert dismissed == "dismissed"
    expect(page.locator("[data-npsloop]")).to_have_count(0)
    [invitation] = _invitations(live_server, contact_id)
    assert invitation.status == "dismissed" and invitation.dismissed_at is not None
    assert invitation.opened_at is not None  # it was shown before it was closed
    assert errors == []
    context.close()

