"""Each chat notifier against its local vendor stand-in, which recomputes the signature."""

from __future__ import annotations

import pytest

from npsloop.notify.base import Fact, Notice, Outcome, Outgoing
from npsloop.notify.channels.dingtalk import DingTalkNotifier
from npsloop.notify.channels.feishu import FeishuNotifier
from npsloop.notify.channels.slack import SlackNotifier
from npsloop.notify.channels.webhook import WebhookNotifier, new_signing_secret
from npsloop.notify.channels.wecom import WeComNotifier
from tests.notify.servers import (
    DingTalkServer,
    FeishuServer,
    SlackServer,
    WebhookReceiver,
    WeComServer,
)

NOTICE = Notice(
    title="[P1] New ticket: late delivery",
    text="A ticket was opened for follow-up.",
    facts=(Fact("priority", "Priority", "P1"), Fact("score", "Score", "2")),
    quote="Parcel arrived *three* days late <b>again</b>",
    link_url="http://127.0.0.1:8000/tickets/t1",
    link_label="Open the ticket",
    language="en",
    level="warning",
)


def outgoing(notice: Notice = NOTICE) -> Outgoing:
    return Outgoing(id="m1", notice=notice)


@pytest.fixture
def dingtalk():
    server = DingTalkServer()
    yield server
    server.stop()


@pytest.mark.parametrize("msg_type", ["text", "markdown", "actionCard"])
def test_dingtalk_signed_message_types(dingtalk: DingTalkServer, msg_type: str) -> None:
    notifier = DingTalkNotifier(DingTalkNotifier.parse_config({
        "webhook_url": dingtalk.url, "secret": dingtalk.secret, "msg_type": msg_type,
        "at_mobiles": ["13800000000"]}))
    result = notifier.send(outgoing())
    assert result.outcome == Outcome.delivered, result
    body = dingtalk.accepted[-1].json()
    assert body["msgtype"] == msg_type
    if msg_type == "markdown":
        text = body["markdown"]["text"]
        assert "\\*three\\*" in text and "<b>" not in text and "&lt;b&gt;" in text
        assert body["at"] == {"atMobiles": ["13800000000"], "atUserIds": [], "isAtAll": False}
        assert "@13800000000" in text
    if msg_type == "actionCard":
        assert body["actionCard"]["singleURL"] == NOTICE.link_url


def test_dingtalk_wrong_secret_is_permanent(dingtalk: DingTalkServer) -> None:
    notifier = DingTalkNotifier(DingTalkNotifier.parse_config(
        {"webhook_url": dingtalk.url, "secret": "SECwrong"}))
    result = notifier.send(outgoing())
    assert (result.outcome, result.vendor_code, result.status_code) == (
        Outcome.failed, "310000", 200)
    assert not dingtalk.accepted


def test_dingtalk_errors_inside_200(dingtalk: DingTalkServer) -> None:
    notifier = DingTalkNotifier(DingTalkNotifier.parse_config(
        {"webhook_url": dingtalk.url, "secret": dingtalk.secret}))
    dingtalk.mode = "rate_limited"
    limited = notifier.send(outgoing())
    assert (limited.outcome, limited.vendor_code) == (Outcome.retry, "130101")
    assert limited.retry_after and limited.retry_after >= 60
    dingtalk.mode = "error"
    keyword = notifier.send(outgoing())
    assert (keyword.outcome, keyword.vendor_code, keyword.status_code) == (
        Outcome.failed, "310000", 200)
    dingtalk.mode = "http_500"
    assert notifier.send(outgoing()).outcome == Outcome.retry
    bad_token = DingTalkNotifier(DingTalkNotifier.parse_config(
        {"webhook_url": dingtalk.url.replace("dt-token", "nope"), "secret": dingtalk.secret}))
    assert bad_token.send(outgoing()).vendor_code == "300001"


@pytest.fixture
def feishu():
    server = FeishuServer()
    yield server
    server.stop()


@pytest.mark.parametrize("msg_type", ["text", "post", "interactive"])
def test_feishu_signed_message_types(feishu: FeishuServer, msg_type: str) -> None:
    notifier = FeishuNotifier(FeishuNotifier.parse_config(
        {"webhook_url": feishu.url, "secret": feishu.secret, "msg_type": msg_type}))
    assert notifier.send(outgoing()).outcome == Outcome.delivered
    body = feishu.accepted[-1].json()
    assert body["msg_type"] == msg_type and isinstance(body["timestamp"], str)
    if msg_type == "interactive":
        card = body["card"]
        assert card["header"]["title"]["content"] == NOTICE.title
        quote = [e for e in card["elements"] if e.get("text", {}).get("content") == NOTICE.quote]
        assert quote and quote[0]["text"]["tag"] == "plain_text"  # user text never lark_md
        button = card["elements"][-1]["actions"][0]
        assert button["url"] == NOTICE.link_url
    if msg_type == "post":
        rows = body["content"]["post"]["en_us"]["content"]
        assert rows[-1] == [{"tag": "a", "text": "Open the ticket", "href": NOTICE.link_url}]


def test_feishu_sign_mismatch_and_vendor_errors(feishu: FeishuServer) -> None:
    wrong = FeishuNotifier(FeishuNotifier.parse_config(
        {"webhook_url": feishu.url, "secret": "other"}))
    result = wrong.send(outgoing())
    assert (result.outcome, result.vendor_code) == (Outcome.failed, "19021")
    right = FeishuNotifier(FeishuNotifier.parse_config(
        {"webhook_url": feishu.url, "secret": feishu.secret}))
    feishu.mode = "rate_limited"
    limited = right.send(outgoing())
    assert (limited.outcome, limited.vendor_code) == (Outcome.retry, "11232")
    feishu.mode = "error"
    assert right.send(outgoing()).outcome == Outcome.failed


def test_feishu_body_stays_under_20kb(feishu: FeishuServer) -> None:
    notifier = FeishuNotifier(FeishuNotifier.parse_config(
        {"webhook_url": feishu.url, "secret": feishu.secret}))
    huge = Notice.from_dict({**NOTICE.to_dict(), "quote": "很长的评论" * 3000})
    assert notifier.send(outgoing(huge)).outcome == Outcome.delivered
    assert len(feishu.accepted[-1].raw) <= 20_000


@pytest.fixture
def wecom():
    server = WeComServer()
    yield server
    server.stop()


@pytest.mark.parametrize("msg_type", ["text", "markdown", "template_card"])
def test_wecom_message_types_within_byte_limits(wecom: WeComServer, msg_type: str) -> None:
    notifier = WeComNotifier(WeComNotifier.parse_config(
        {"webhook_url": wecom.url, "msg_type": msg_type}))
    long_notice = Notice.from_dict({**NOTICE.to_dict(), "quote": "物流太慢了！" * 800})
    result = notifier.send(outgoing(long_notice))
    assert result.outcome == Outcome.delivered, result
    body = wecom.accepted[-1].json()
    if msg_type == "text":
        assert len(body["text"]["content"].encode()) <= 2048
    if msg_type == "markdown":
        assert 3000 < len(body["markdown"]["content"].encode()) <= 4096
    if msg_type == "template_card":
        assert body["template_card"]["card_action"]["url"] == NOTICE.link_url


def test_wecom_bad_key_and_rate_limit(wecom: WeComServer) -> None:
    bad = WeComNotifier(WeComNotifier.parse_config(
        {"webhook_url": wecom.url.replace("wc-key", "bad")}))
    assert (bad.send(outgoing()).outcome, bad.send(outgoing()).vendor_code) == (
        Outcome.failed, "93000")
    good = WeComNotifier(WeComNotifier.parse_config({"webhook_url": wecom.url}))
    wecom.mode = "rate_limited"
    assert good.send(outgoing()).outcome == Outcome.retry


def test_slack_blocks_and_plain_text_errors() -> None:
    server = SlackServer()
    try:
        notifier = SlackNotifier(SlackNotifier.parse_config({"webhook_url": server.url}))
        hostile = Notice.from_dict({**NOTICE.to_dict(), "quote": "hi <!channel> & <@U1>"})
        assert notifier.send(outgoing(hostile)).outcome == Outcome.delivered
        sent = server.accepted[-1].json()
        assert "<!channel>" not in str(sent) and "&lt;!channel&gt;" in str(sent)
        server.mode = "archived"
        gone = notifier.send(outgoing())
        assert (gone.outcome, gone.status_code, gone.vendor_code) == (
            Outcome.failed, 410, "channel_is_archived")
        server.mode = "rate_limited"
        limited = notifier.send(outgoing())
        assert (limited.outcome, limited.retry_after) == (Outcome.retry, 1.0)
    finally:
        server.stop()


def test_standard_webhook_verified_by_receiver() -> None:
    secret = new_signing_secret()
    server = WebhookReceiver(secret)
    try:
        notifier = WebhookNotifier(WebhookNotifier.parse_config(
            {"url": server.url, "signing_secret": secret}))
        event = Outgoing(id="abc", event_type="response.created", data={"score": 3})
        assert notifier.send(event).outcome == Outcome.delivered
        assert server.seen_ids == ["msg_abc"]
        assert server.payloads[0]["type"] == "response.created"
        assert server.payloads[0]["data"] == {"score": 3}
        forged = WebhookNotifier(WebhookNotifier.parse_config(
            {"url": server.url, "signing_secret": new_signing_secret()}))
        refused = forged.send(event)
        assert (refused.outcome, refused.status_code) == (Outcome.retry, 401)
        server.mode = "gone"
        gone = notifier.send(event)
        assert (gone.outcome, gone.disable_target) == (Outcome.failed, True)
    finally:
        server.stop()


def test_network_error_raises_for_the_worker_to_retry() -> None:
    server = DingTalkServer()
    url = server.url
    server.stop()
    notifier = DingTalkNotifier(DingTalkNotifier.parse_config(
        {"webhook_url": url, "secret": "SECx", "timeout_seconds": 2}))
    import httpx

    with pytest.raises(httpx.TransportError):
        notifier.send(outgoing())
