"""Templates in zh and en, mention neutralising, escaping, notifier discovery, encryption."""

from __future__ import annotations

import json
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from npsloop.notify import registry
from npsloop.notify.base import Notice, Notifier, Outgoing, SendResult
from npsloop.notify.channels.dingtalk import DingTalkNotifier
from npsloop.notify.channels.wecom import WeComNotifier
from npsloop.notify.crypto import SecretBox, SecretDecryptError
from npsloop.notify.notices import TemplateError, render_notice
from npsloop.notify.text import escape_markdown, neutralize_mentions

LOCALES = Path(__file__).resolve().parents[2] / "src" / "npsloop" / "notify" / "locales"


@pytest.mark.parametrize("hostile", [
    "@all", "@ALL please", "hi @所有人", "@全体成员", '<at user_id="all">所有人</at>',
    "<at id=all></at>", "<@all>", "<!channel>", "@everyone", "@here",
])
def test_mentions_of_everyone_are_neutralised(hostile: str) -> None:
    clean = neutralize_mentions(hostile)
    lowered = clean.lower()
    assert "@all" not in lowered and "@所有人" not in clean and "@全体成员" not in clean
    assert "<at" not in lowered and "<@" not in clean and "<!" not in clean
    assert "@everyone" not in lowered and "@here" not in lowered


def test_ordinary_text_is_left_alone() -> None:
    text = "mail me at li@allsorts.example, score 3/10 (late) - really."
    assert neutralize_mentions(text) == text


def test_ticket_template_zh_and_en() -> None:
    params = {"priority": "P1", "subject": "物流慢", "owner": "王五", "score": 2, "team": ""}
    zh = render_notice("ticket.created", "zh-CN", params, quote="@all 太慢了",
                       link="/tickets/7", base_url="https://nps.example.cn/")
    en = render_notice("ticket.created", "en", params, link="/tickets/7",
                       base_url="https://nps.example.cn")
    assert zh.title == "[P1] 新工单：物流慢" and en.title == "[P1] New ticket: 物流慢"
    assert zh.link_url == en.link_url == "https://nps.example.cn/tickets/7"
    assert (zh.link_label, en.link_label) == ("查看工单", "Open the ticket")
    assert [f.label for f in zh.facts] == ["优先级", "负责人", "评分"]  # empty team left out
    assert [f.label for f in en.facts] == ["Priority", "Owner", "Score"]
    assert zh.quote == "＠all 太慢了"


def test_template_errors_name_the_problem() -> None:
    with pytest.raises(TemplateError) as missing:
        render_notice("ticket.created", "en", {"priority": "P1"})
    assert missing.value.field == "params" and "subject" in missing.value.message
    with pytest.raises(TemplateError) as unknown:
        render_notice("ticket.exploded", "en", {})
    assert unknown.value.field == "template"


def test_user_text_cannot_format_the_template() -> None:
    notice = render_notice("ticket.created", "en", {"priority": "{priority}",
                                                    "subject": "{0} {__class__}"})
    assert notice.title == "[{priority}] New ticket: {0} {__class__}"


def test_catalogs_have_the_same_keys() -> None:
    en = json.loads((LOCALES / "en.json").read_text(encoding="utf-8"))
    zh = json.loads((LOCALES / "zh-CN.json").read_text(encoding="utf-8"))
    assert en.keys() == zh.keys() and all(en.values()) and all(zh.values())


def test_markdown_injection_is_inert() -> None:
    hostile = "[click](http://evil.example) **bold** <font color=red>x</font>\n# heading"
    escaped = escape_markdown(hostile)
    assert "[click](" not in escaped and "**bold**" not in escaped
    assert "<font" not in escaped and "\n\\# heading" in escaped
    body = DingTalkNotifier(DingTalkNotifier.parse_config(
        {"webhook_url": "https://oapi.dingtalk.com/robot/send?access_token=x"})).body(
        Outgoing(id="1", notice=Notice(title="t", quote=hostile, link_url="javascript:x")))
    assert "javascript:" not in json.dumps(body)


def test_wecom_text_mentions_come_only_from_config() -> None:
    notifier = WeComNotifier(WeComNotifier.parse_config({
        "webhook_url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k",
        "msg_type": "text", "mentioned_mobile_list": ["13800000000"]}))
    body = notifier.body(Outgoing(id="1", notice=render_notice(
        "test", "zh-CN", {"channel": "@all"})))
    assert body["text"]["mentioned_list"] == []
    assert body["text"]["mentioned_mobile_list"] == ["13800000000"]


class EchoNotifier(Notifier):
    """A third-party notifier, as another package would ship it."""

    kind = "echo"
    label = "Echo"

    def send(self, message: Outgoing) -> SendResult:
        return SendResult.ok()


def test_entry_points_add_notifiers_and_builtins_remain() -> None:
    found = registry.discover([
        EntryPoint("echo", "tests.notify.test_rendering:EchoNotifier", registry.GROUP),
        EntryPoint("broken", "tests.notify.nowhere:Missing", registry.GROUP),
        EntryPoint("notanotifier", "json:dumps", registry.GROUP),
    ])
    assert found["echo"] is EchoNotifier
    assert {"dingtalk", "feishu", "wecom", "aliyun_sms", "tencent_sms", "email", "slack",
            "webhook"} <= set(found)
    assert "broken" not in found and "notanotifier" not in found


def test_installed_entry_points_list_the_builtins() -> None:
    from importlib.metadata import entry_points

    names = {point.name for point in entry_points(group=registry.GROUP)}
    if not names:
        pytest.skip("package metadata predates the entry points (reinstall to refresh)")
    assert names >= set(registry.builtin_notifiers())
    for point in entry_points(group=registry.GROUP):
        if point.name in registry.builtin_notifiers():
            assert point.load() is registry.builtin_notifiers()[point.name]


def test_secret_box_rotation_with_old_keys() -> None:
    old = SecretBox("old-key-" + "x" * 30)
    token = old.encrypt({"secret": "SEC123"})
    assert "SEC123" not in token
    new = SecretBox("new-key-" + "y" * 30, ["old-key-" + "x" * 30])
    assert new.decrypt(token) == {"secret": "SEC123"}
    rotated = new.rotate(token)
    assert SecretBox("new-key-" + "y" * 30).decrypt(rotated) == {"secret": "SEC123"}
    with pytest.raises(SecretDecryptError):
        SecretBox("new-key-" + "y" * 30).decrypt(token)


def test_standard_webhooks_reference_vector() -> None:
    """The example from the Standard Webhooks specification, signed by our code path."""
    from datetime import UTC, datetime

    from npsloop.notify.channels.webhook import signed_headers

    headers = signed_headers(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
        datetime.fromtimestamp(1614265330, UTC), '{"test": 2432232314}')
    assert headers["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert headers["webhook-timestamp"] == "1614265330"
    assert headers["webhook-id"] == "msg_p5jXN8AQM9LWM0D4loKWxJek"
