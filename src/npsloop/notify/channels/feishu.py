"""Feishu / Lark custom bot: text, post (rich text) and interactive card, signed.

Signing is the reverse of DingTalk: string_to_sign = "{timestamp_s}\\n{secret}" is the HMAC
*key* and the message is empty; the base64 digest goes into the JSON body beside `msg_type`
together with `timestamp` (seconds, as a string). Success is `code == 0`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any, Literal

from pydantic import Field

from npsloop.notify.base import (
    Notice,
    Notifier,
    Outgoing,
    RateLimit,
    SendResult,
    http_status_result,
    secret_field,
    unexpected_reply,
    vendor_code_result,
)
from npsloop.notify.channels._robot import RobotConfig, robot_key
from npsloop.notify.text import safe_url, truncate_bytes

PERMANENT = frozenset({"9499", "19001", "19002", "19007", "19021", "19022", "19024"})
RATE_LIMITED = frozenset({"11232", "11233"})
MAX_BODY_BYTES = 20_000
LEVEL_COLOURS = {"info": "blue", "warning": "orange", "critical": "red"}


def sign(secret: str, timestamp_s: int) -> str:
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


# lark_md renders a markdown subset plus <at>/<font> tags; user text never reaches it
# unescaped (quote and text use plain_text elements; fact values are escaped here).
_LARK_MD = str.maketrans({"<": "&lt;", ">": "&gt;", **{c: "\\" + c for c in "\\*_~`[]()#"}})


def _lark_md_escape(text: str) -> str:
    return text.translate(_LARK_MD)


class FeishuConfig(RobotConfig):
    secret: str = secret_field("", max_length=200, description="signing secret")
    msg_type: Literal["text", "post", "interactive"] = "interactive"
    keyword: str = Field("", max_length=50, description="keyword the bot requires")


class FeishuNotifier(Notifier):
    kind = "feishu"
    label = "Feishu / Lark bot"
    Config = FeishuConfig
    rate_limits = (RateLimit(5, 1), RateLimit(100, 60))

    config: FeishuConfig

    def rate_key(self) -> str:
        return robot_key(self.kind, self.config.webhook_url)

    def _title(self, notice: Notice) -> str:
        return f"{self.config.keyword} {notice.title}".strip()

    def content(self, notice: Notice) -> dict[str, Any]:
        link = safe_url(notice.link_url)
        if self.config.msg_type == "text":
            text = notice.plain_text()
            if self.config.keyword:
                text = f"{self.config.keyword} {text}"
            return {"msg_type": "text", "content": {"text": text}}
        if self.config.msg_type == "post":
            rows: list[list[dict[str, str]]] = []
            if notice.text:
                rows.append([{"tag": "text", "text": notice.text}])
            rows += [[{"tag": "text", "text": f"{f.label}: {f.value}"}] for f in notice.facts]
            if notice.quote:
                rows.append([{"tag": "text", "text": f"“{notice.quote}”"}])
            if link:
                rows.append([{"tag": "a", "text": notice.link_label or link, "href": link}])
            lang = "zh_cn" if notice.language.startswith("zh") else "en_us"
            return {"msg_type": "post", "content": {"post": {lang: {
                "title": self._title(notice), "content": rows}}}}
        elements: list[dict[str, Any]] = []
        if notice.text:
            elements.append({"tag": "div", "text": {"tag": "plain_text", "content": notice.text}})
        if notice.facts:
            elements.append({"tag": "div", "fields": [
                {"is_short": True, "text": {"tag": "lark_md", "content":
                    f"**{_lark_md_escape(f.label)}**\n{_lark_md_escape(f.value)}"}}
                for f in notice.facts]})
        if notice.quote:
            elements.append({"tag": "div", "text": {"tag": "plain_text", "content": notice.quote}})
        if link:
            elements.append({"tag": "action", "actions": [{
                "tag": "button", "type": "primary", "url": link,
                "text": {"tag": "plain_text", "content": notice.link_label or link}}]})
        return {"msg_type": "interactive", "card": {
            "config": {"wide_screen_mode": True},
            "header": {"template": LEVEL_COLOURS.get(notice.level, "blue"),
                       "title": {"tag": "plain_text", "content": self._title(notice)}},
            "elements": elements,
        }}

    def body(self, message: Outgoing) -> dict[str, Any]:
        notice = message.notice
        if notice is None:
            raise ValueError("a Feishu bot sends notices, not raw events")
        body = self.content(notice)
        size = len(json.dumps(body, ensure_ascii=False).encode())
        if size > MAX_BODY_BYTES and notice.quote:
            # Feishu refuses bodies over 20 KB: shorten the customer's text, keep the rest.
            room = max(len(notice.quote.encode()) - (size - MAX_BODY_BYTES) - 200, 200)
            short = Notice.from_dict({**notice.to_dict(), "quote": truncate_bytes(
                notice.quote, room)})
            body = self.content(short)
        if self.config.secret:
            timestamp = int(time.time())
            body = {"timestamp": str(timestamp), "sign": sign(self.config.secret, timestamp),
                    **body}
        return body

    def send(self, message: Outgoing) -> SendResult:
        response = self.post(self.config.webhook_url, json=self.body(message))
        try:
            reply = response.json()
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            return http_status_result(response) if response.status_code != 200 else (
                unexpected_reply(response))
        # New bots answer {"code": 0}; old ones {"StatusCode": 0}.
        code = reply.get("code", reply.get("StatusCode"))
        if code == 0 and response.status_code == 200:
            return SendResult.ok(200, "0")
        if code is None:
            return http_status_result(response)
        return vendor_code_result(response.status_code, code,
                                  str(reply.get("msg", reply.get("StatusMessage", ""))),
                                  permanent=PERMANENT, rate_limited=RATE_LIMITED,
                                  rate_limit_wait=1.0)
