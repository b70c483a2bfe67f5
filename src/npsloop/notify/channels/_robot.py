"""What the three chat robots (DingTalk, Feishu, WeCom) share: a secret webhook URL and a
per-robot rate-limit key that never reveals the URL."""

from __future__ import annotations

import hashlib

from pydantic import field_validator

from npsloop.notify.base import ChannelConfig, Notice, secret_field
from npsloop.notify.text import escape_markdown, markdown_quote, safe_url


def robot_key(kind: str, url: str) -> str:
    return f"{kind}:{hashlib.sha256(url.encode()).hexdigest()[:24]}"


class RobotConfig(ChannelConfig):
    # The URL carries the robot's token, so it is a secret like the signing key.
    webhook_url: str = secret_field(max_length=2000)

    @field_validator("webhook_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.lower().startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value


def markdown_body(notice: Notice, *, include_link: bool = True, heading: str = "### ") -> str:
    """The notice as escaped markdown (DingTalk and WeCom dialects agree on this subset)."""
    parts = [heading + escape_markdown(notice.title)]
    if notice.text:
        parts.append(escape_markdown(notice.text))
    if notice.facts:
        parts.append(
            "\n".join(f"- **{escape_markdown(f.label)}**: {escape_markdown(f.value)}"
                      for f in notice.facts)
        )
    if notice.quote:
        parts.append(markdown_quote(notice.quote))
    link = safe_url(notice.link_url)
    if include_link and link:
        parts.append(f"[{escape_markdown(notice.link_label or link)}]({link})")
    return "\n\n".join(parts)
