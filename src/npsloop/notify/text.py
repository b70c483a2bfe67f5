"""Making user text safe for each channel's markup, and cutting it to vendors' byte limits.

Mentions are neutralised for every channel, because a customer comment saying "@all" or
"<at user_id=\"all\">" must never page a whole group. Markup escaping is per format.
"""

from __future__ import annotations

import html
import re
from dataclasses import replace

from npsloop.notify.base import Fact, Notice

FULLWIDTH_AT = "\uff20"  # "＠": reads as @, mentions nobody

# <at user_id="all">x</at>, <at id=all></at>, <at user_id='ou_1'>name</at> (Feishu)
_AT_TAG = re.compile(r"<\s*at\b[^>]*>(.*?)<\s*/\s*at\s*>|<\s*at\b[^>]*/?>", re.I | re.S)
# <@all>, <@userid> (WeCom markdown, Slack <!channel>, <!here>, <!everyone>, <@U123>)
_ANGLE_MENTION = re.compile(r"<\s*[@!]\s*([^>]*)>")
_AT_ALL = re.compile(r"@\s*(all|everyone|here|channel)\b", re.I)
_AT_ALL_CJK = re.compile(r"@\s*(所有人|全体成员)")


def neutralize_mentions(text: str) -> str:
    text = _AT_TAG.sub(lambda m: m.group(1) or "", text)
    text = _ANGLE_MENTION.sub(lambda m: f"{FULLWIDTH_AT}{m.group(1).strip()}", text)
    text = _AT_ALL_CJK.sub(lambda m: FULLWIDTH_AT + m.group(1), text)
    return _AT_ALL.sub(lambda m: FULLWIDTH_AT + m.group(1), text)


def sanitize_notice(notice: Notice) -> Notice:
    """Neutralises mentions in every text field (templates never contain any)."""
    clean = neutralize_mentions
    return replace(
        notice,
        title=clean(notice.title),
        text=clean(notice.text),
        quote=clean(notice.quote),
        link_label=clean(notice.link_label),
        facts=tuple(Fact(f.key, clean(f.label), clean(f.value)) for f in notice.facts),
    )


_MD_INLINE = re.compile(r"([\\`*_\[\]|~])")
_MD_LINE_START = re.compile(r"^(\s*)([#+\-])", re.M)
_MD_ORDERED = re.compile(r"^(\s*\d+)([.)])", re.M)


def escape_markdown(text: str) -> str:
    """Makes text inert in DingTalk/WeCom markdown: HTML-escapes &, < and > (both accept a
    little HTML such as <font>), backslash-escapes inline syntax everywhere and block
    syntax (headings, lists) at line starts only, so ordinary punctuation stays readable."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_INLINE.sub(r"\\\1", text)
    text = _MD_LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)
    return _MD_ORDERED.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def markdown_quote(text: str) -> str:
    """User text as a markdown block quote, each line escaped."""
    return "\n".join("> " + escape_markdown(line) for line in text.splitlines() or [""])


def escape_html(text: str) -> str:
    return html.escape(text, quote=True)


def escape_slack(text: str) -> str:
    """Slack mrkdwn: only &, < and > need escaping (that also disables <!channel>)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate_bytes(text: str, limit: int, ellipsis: str = "…") -> str:
    """Cuts to at most `limit` UTF-8 bytes without splitting a character."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    room = limit - len(ellipsis.encode("utf-8"))
    return data[: max(room, 0)].decode("utf-8", errors="ignore") + ellipsis


def truncate_chars(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def safe_url(url: str) -> str:
    """Only http(s) links are rendered as links; anything else is dropped."""
    return url if re.match(r"^https?://", url or "", re.I) else ""
