"""DingTalk custom robot: text, markdown and actionCard, signed with HMAC-SHA256.

Signing: string_to_sign = "{timestamp_ms}\\n{secret}", HMAC-SHA256 keyed with the secret,
base64, URL-encoded, sent as `&timestamp=…&sign=…`. DingTalk answers HTTP 200 even on
failure: only `errcode == 0` is success.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any, Literal
from urllib.parse import quote_plus

from pydantic import Field

from npsloop.notify.base import (
    Notifier,
    Outgoing,
    RateLimit,
    SendResult,
    http_status_result,
    secret_field,
    unexpected_reply,
    vendor_code_result,
)
from npsloop.notify.channels._robot import RobotConfig, markdown_body, robot_key
from npsloop.notify.text import safe_url

PERMANENT = frozenset(
    {"300001", "310000", "400101", "400102", "400105", "400106", "400402", "430101",
     "430102", "430103", "430104"}
)
RATE_LIMITED = frozenset({"130101", "410100"})


def sign(secret: str, timestamp_ms: int) -> str:
    """The `sign` query value (already URL-encoded)."""
    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), string_to_sign, hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


class DingTalkConfig(RobotConfig):
    secret: str = secret_field("", max_length=200, description="signing secret (SEC…)")
    msg_type: Literal["text", "markdown", "actionCard"] = "markdown"
    keyword: str = Field("", max_length=50, description="security keyword the robot requires")
    at_mobiles: list[str] = Field(default_factory=list, max_length=50)
    at_user_ids: list[str] = Field(default_factory=list, max_length=50)


class DingTalkNotifier(Notifier):
    kind = "dingtalk"
    label = "DingTalk robot"
    Config = DingTalkConfig
    rate_limits = (RateLimit(20, 60),)

    config: DingTalkConfig

    def rate_key(self) -> str:
        return robot_key(self.kind, self.config.webhook_url)

    def url(self) -> str:
        if not self.config.secret:
            return self.config.webhook_url
        timestamp = int(time.time() * 1000)
        joiner = "&" if "?" in self.config.webhook_url else "?"
        return (f"{self.config.webhook_url}{joiner}timestamp={timestamp}"
                f"&sign={sign(self.config.secret, timestamp)}")

    def body(self, message: Outgoing) -> dict[str, Any]:
        notice = message.notice
        if notice is None:
            raise ValueError("a DingTalk robot sends notices, not raw events")
        cfg = self.config
        title = f"{cfg.keyword} {notice.title}".strip()
        at = {"atMobiles": cfg.at_mobiles, "atUserIds": cfg.at_user_ids, "isAtAll": False}
        # A mention shows only if the text names it: append the configured ones.
        mentions = " ".join(f"@{m}" for m in [*cfg.at_mobiles, *cfg.at_user_ids])
        link = safe_url(notice.link_url)
        msg_type = cfg.msg_type if (cfg.msg_type != "actionCard" or link) else "markdown"
        if msg_type == "text":
            content = notice.plain_text()
            if cfg.keyword:
                content = f"{cfg.keyword} {content}"
            return {"msgtype": "text", "text": {"content": f"{content} {mentions}".strip()},
                    "at": at}
        if msg_type == "markdown":
            text = markdown_body(notice)
            return {"msgtype": "markdown", "markdown": {"title": title,
                    "text": f"{text}\n\n{mentions}".strip()}, "at": at}
        return {
            "msgtype": "actionCard",
            "actionCard": {
                "title": title,
                "text": markdown_body(notice, include_link=False),
                "singleTitle": notice.link_label or link,
                "singleURL": link,
            },
        }

    def send(self, message: Outgoing) -> SendResult:
        response = self.post(self.url(), json=self.body(message))
        if response.status_code != 200:
            return http_status_result(response)
        try:
            reply = response.json()
        except ValueError:
            return unexpected_reply(response)
        code = reply.get("errcode") if isinstance(reply, dict) else None
        if code == 0:
            return SendResult.ok(200, "0")
        return vendor_code_result(200, code, str(reply.get("errmsg", "")),
                                  permanent=PERMANENT, rate_limited=RATE_LIMITED)
