"""The notify pages with a signed-in owner: forms post with the CSRF token, errors name the
field, the test button reports the vendor's answer, secrets never reach the HTML."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from npsloop.accounts.models import User, WebSession
from tests.notify.servers import DingTalkServer

SECRET = "SECpage-secret-0123456789"


@pytest.fixture
def owner(client, org, db) -> str:
    response = client.post("/login", data={"email": org.owner_email, "password": org.password},
                           follow_redirects=False)
    assert response.status_code == 303
    user = db.scalar(select(User).where(User.email == org.owner_email))
    return db.scalar(select(WebSession.csrf_token).where(WebSession.user_id == user.id))


def test_create_channel_test_it_and_read_the_log(client, owner) -> None:
    server = DingTalkServer(secret=SECRET)
    try:
        form = client.get("/notify/channels/new?kind=dingtalk&lang=zh-CN")
        assert form.status_code == 200 and "钉钉机器人" in form.text
        bad = client.post("/notify/channels/new?kind=dingtalk", data={
            "csrf_token": owner, "name": "Ops", "config.webhook_url": "not a url"})
        assert bad.status_code == 422 and "must be an http(s) URL" in bad.text
        assert client.post("/notify/channels/new?kind=dingtalk", data={
            "name": "Ops", "config.webhook_url": server.url}).status_code == 403  # no CSRF
        created = client.post("/notify/channels/new?kind=dingtalk", follow_redirects=False,
                              data={"csrf_token": owner, "name": "Ops", "enabled": "on",
                                    "config.webhook_url": server.url, "config.secret": SECRET,
                                    "config.msg_type": "markdown",
                                    "config.at_mobiles": "13800000000\n"})
        assert created.status_code == 303
        listing = client.get("/notify?lang=en")
        channel_id = re.search(r'/notify/channels/([0-9a-f]{32})"', listing.text).group(1)
        edit = client.get(f"/notify/channels/{channel_id}")
        assert SECRET not in edit.text and "dt-token" not in edit.text
        assert "13800000000" in edit.text

        # Saving the form with the secrets left empty keeps them: the robot still accepts.
        saved = client.post(f"/notify/channels/{channel_id}", follow_redirects=False, data={
            "csrf_token": owner, "name": "Ops robot", "enabled": "on",
            "config.msg_type": "text"})
        assert saved.status_code == 303
        tested = client.post(f"/notify/channels/{channel_id}/test", data={"csrf_token": owner},
                             follow_redirects=True)
        assert "Test message delivered." in tested.text
        assert server.accepted[-1].json()["msgtype"] == "text"

        server.mode = "error"
        failed = client.post(f"/notify/channels/{channel_id}/test",
                             data={"csrf_token": owner}, follow_redirects=True)
        assert "310000" in failed.text
        log = client.get("/notify/messages?status=dead")
        message_id = re.search(r'/notify/messages/([0-9a-f]{32})"', log.text).group(1)
        detail = client.get(f"/notify/messages/{message_id}")
        assert "310000" in detail.text and f"msg_{message_id}" in detail.text
        retried = client.post(f"/notify/messages/{message_id}/retry",
                              data={"csrf_token": owner}, follow_redirects=True)
        assert retried.status_code == 200 and "Send now" in retried.text
    finally:
        server.stop()


def test_webhook_secret_shown_once_on_the_page(client, owner) -> None:
    created = client.post("/notify/webhooks?lang=en", data={
        "csrf_token": owner, "url": "https://crm.example.test/h",
        "event_types": ["response.created", "ticket.updated"]})
    assert created.status_code == 200
    secret = re.search(r"whsec_[A-Za-z0-9+/=]+", created.text).group(0)
    again = client.get("/notify/webhooks")
    assert secret not in again.text and "crm.example.test" in again.text
    none = client.post("/notify/webhooks", data={"csrf_token": owner,
                                                  "url": "https://crm.example.test/2"})
    assert none.status_code == 422 and "subscribe to at least one event type" in none.text


def test_pages_need_an_admin(client, org, make_user) -> None:
    assert client.get("/notify", follow_redirects=False).status_code == 303
    email = make_user(org.org_id, "analyst")
    client.post("/login", data={"email": email, "password": "password-123"})
    assert client.get("/notify").status_code == 403
