"""WeCom (企业微信) group robot: text, markdown and template_card (text_notice).

No signing: the `key` in the URL is the credential. Byte limits are enforced here rather
than discovered as errcode 40058: text content 2048 bytes, markdown content 4096 bytes.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from npsloop.notify.base import (
    Notice,
    Notifier,
    Outgoing,
    RateLimit,
    SendResult,
    http_status_result,
    unexpected_reply,
    vendor_code_result,
)
from npsloop.notify.channels._robot import RobotConfig, markdown_body, robot_key
from npsloop.notify.text import safe_url, truncate_bytes, truncate_chars

TEXT_LIMIT = 2048
MARKDOWN_LIMIT = 4096
PERMANENT = frozenset({"93000", "93004", "40008", "40058", "40001", "40014", "44004"})
RATE_LIMITED = frozenset({"45009", "45033"})


class WeComConfig(RobotConfig):
    msg_type: Literal["text", "markdown", "template_card"] = "markdown"
    mentioned_list: list[str] = Field(default_factory=list, max_length=50)
    mentioned_mobile_list: list[str] = Field(default_factory=list, max_length=50)
    source_name: str = Field("npsloop", max_length=13)


def _fit_markdown(notice: Notice) -> str:
    """Markdown within 4096 bytes: shorten the customer's text first (escaping may grow it,
    so shrink until it fits), and only then cut the whole."""
    content = markdown_body(notice, heading="### ")
    quote = notice.quote
    while quote and len(content.encode()) > MARKDOWN_LIMIT:
        excess = len(content.encode()) - MARKDOWN_LIMIT
        quote = truncate_bytes(quote, max(len(quote.encode()) - excess - 16, 0), "")
        short = Notice.from_dict({**notice.to_dict(), "quote": quote + "…" if quote else ""})
        content = markdown_body(short, heading="### ")
    return truncate_bytes(content, MARKDOWN_LIMIT)


class WeComNotifier(Notifier):
    kind = "wecom"
    label = "WeCom group robot"
    Config = WeComConfig
    rate_limits = (RateLimit(20, 60),)

    config: WeComConfig

    def rate_key(self) -> str:
        return robot_key(self.kind, self.config.webhook_url)

    def body(self, message: Outgoing) -> dict[str, Any]:
        notice = message.notice
        if notice is None:
            raise ValueError("a WeCom robot sends notices, not raw events")
        cfg = self.config
        link = safe_url(notice.link_url)
        msg_type = cfg.msg_type if (cfg.msg_type != "template_card" or link) else "markdown"
        if msg_type == "text":
            return {"msgtype": "text", "text": {
                "content": truncate_bytes(notice.plain_text(), TEXT_LIMIT),
                "mentioned_list": cfg.mentioned_list,
                "mentioned_mobile_list": cfg.mentioned_mobile_list}}
        if msg_type == "markdown":
            return {"msgtype": "markdown", "markdown": {"content": _fit_markdown(notice)}}
        card: dict[str, Any] = {
            "card_type": "text_notice",
            "source": {"desc": cfg.source_name},
            "main_title": {"title": truncate_chars(notice.title, 36),
                           "desc": truncate_chars(notice.text, 44)},
            "horizontal_content_list": [
                {"keyname": truncate_chars(f.label, 5), "value": truncate_chars(f.value, 26)}
                for f in notice.facts[:6]
            ],
            "jump_list": [{"type": 1, "url": link,
                           "title": truncate_chars(notice.link_label or link, 13)}],
            "card_action": {"type": 1, "url": link},
        }
        if notice.quote:
            card["quote_area"] = {"type": 0, "quote_text": truncate_chars(notice.quote, 120)}
        return {"msgtype": "template_card", "template_card": card}

    def send(self, message: Outgoing) -> SendResult:
        response = self.post(self.config.webhook_url, json=self.body(message))
        if response.status_code != 200:
            return http_status_result(response)
        try:
            reply = response.json()
        except ValueError:
            return unexpected_reply(response)
        code = reply.get("errcode") if isinstance(reply, dict) else None
        if code == 0:
            return SendResult.ok(200, "0")
        return vendor_code_result(200, code, str(reply.get("errmsg", "") if isinstance(
            reply, dict) else ""), permanent=PERMANENT, rate_limited=RATE_LIMITED)
