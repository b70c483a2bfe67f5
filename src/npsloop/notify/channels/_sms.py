"""What both SMS vendors share: approved templates whose variables are filled from the
notice, phone numbers from the message or the channel, an endpoint override."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from npsloop.notify.base import ChannelConfig, Notice
from npsloop.notify.text import truncate_chars

PHONE = re.compile(r"^\+?[0-9]{5,20}$")
SOURCES = ("title", "text", "link", "link_label", "quote")


def check_source(value: str) -> str:
    if value in SOURCES or value.startswith(("fact:", "text:")):
        return value
    raise ValueError(f"'{value}' must be one of {', '.join(SOURCES)}, 'fact:<key>' or "
                     "'text:<fixed text>'")


def resolve(notice: Notice, source: str, max_length: int) -> str:
    """A template variable's value: a notice field, a fact by key, or fixed text."""
    if source.startswith("fact:"):
        value = notice.fact(source[5:])
    elif source.startswith("text:"):
        value = source[5:]
    else:
        value = {"title": notice.title, "text": notice.text, "link": notice.link_url,
                 "link_label": notice.link_label, "quote": notice.quote}[source]
    value = " ".join(value.split())  # SMS templates take one line per variable
    return truncate_chars(value, max_length) if max_length else value


class SmsConfig(ChannelConfig):
    sign_name: str = Field(min_length=1, max_length=60)
    phone_numbers: list[str] = Field(default_factory=list, max_length=200)
    endpoint: str = Field("", max_length=255, description="host[:port] override")
    protocol: Literal["https", "http"] = "https"
    # Vendors cap each variable (often 35 characters): 0 sends the value whole.
    param_max_length: int = Field(0, ge=0, le=500)
    # On once the receipt URL is set in the vendor console: a message then counts as
    # delivered only when the carrier reports it (off: when the vendor accepted it).
    receipts: bool = False

    @field_validator("phone_numbers")
    @classmethod
    def _phones(cls, value: list[str]) -> list[str]:
        for number in value:
            if not PHONE.match(number):
                raise ValueError(f"'{number}' is not a phone number")
        return value


def recipients(numbers: tuple[str, ...], config: SmsConfig) -> list[str]:
    return [n for n in (list(numbers) or config.phone_numbers) if PHONE.match(n)]
