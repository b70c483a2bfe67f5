"""The one small interface every notifier implements, and what it is given to send.

A notifier turns an `Outgoing` (a channel-neutral `Notice`, or a raw event for webhooks)
into one vendor request and says how it went in a `SendResult`: delivered, retry later, or
failed for good. It never touches the database; the delivery worker does the bookkeeping.
Another package adds a notifier by subclassing `Notifier` and listing the class under the
`npsloop.notifiers` entry-point group.
"""

from __future__ import annotations

import enum
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field

from npsloop.core.db import utcnow

USER_AGENT = "npsloop-notify/1"


class Outcome(enum.StrEnum):
    delivered = "delivered"
    retry = "retry"
    failed = "failed"


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    status_code: int | None = None
    vendor_code: str | None = None
    error: str = ""
    # Seconds the vendor asked us to wait (Retry-After, or a known rate-limit code).
    retry_after: float | None = None
    # The destination is gone for good (webhook 410): disable it.
    disable_target: bool = False
    # SMS: (phone number, vendor id) per accepted recipient, to match delivery receipts.
    vendor_ids: tuple[tuple[str, str], ...] = ()

    @classmethod
    def ok(cls, status_code: int | None = None, vendor_code: str | None = None,
           vendor_ids: tuple[tuple[str, str], ...] = ()) -> SendResult:
        return cls(Outcome.delivered, status_code, vendor_code, vendor_ids=vendor_ids)


@dataclass(frozen=True)
class Fact:
    """A labelled value, e.g. ("priority", "Priority", "P1")."""

    key: str
    label: str
    value: str


@dataclass(frozen=True)
class Notice:
    """A channel-neutral message. Every field is plain text: each channel escapes it for its
    own markup, so user text can never turn into markdown, HTML or a mention."""

    title: str
    text: str = ""
    facts: tuple[Fact, ...] = ()
    quote: str = ""  # user-supplied text, e.g. the customer's comment
    link_url: str = ""
    link_label: str = ""
    language: str = "zh-CN"
    level: str = "info"  # info | warning | critical: colours cards where a channel can

    def to_dict(self) -> dict[str, Any]:
        # What asdict() gives (every field is a str or a tuple of Facts of str), without its
        # recursive deep copy: a campaign serialises thousands of notices per batch.
        data = dict(self.__dict__)
        data["facts"] = [dict(f.__dict__) for f in self.facts]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Notice:
        facts = tuple(Fact(**f) for f in data.get("facts", []))
        return cls(**{**data, "facts": facts})

    def fact(self, key: str) -> str:
        return next((f.value for f in self.facts if f.key == key), "")

    def plain_text(self) -> str:
        """The notice as plain lines: title, text, facts, quote, link."""
        lines = [self.title]
        if self.text:
            lines.append(self.text)
        lines += [f"{f.label}: {f.value}" for f in self.facts]
        if self.quote:
            lines.append(f"“{self.quote}”")
        if self.link_url:
            lines.append(f"{self.link_label or self.link_url}: {self.link_url}")
        return "\n".join(lines)


@dataclass(frozen=True)
class Outgoing:
    """One message as the notifier sees it. `id` is stable across retries: receivers that
    can (webhooks, email) get it so they can drop duplicates."""

    id: str
    notice: Notice | None = None
    event_type: str | None = None
    data: dict[str, Any] | None = None
    recipients: tuple[str, ...] = ()
    created_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class RateLimit:
    count: int
    per_seconds: float


def secret_field(default: Any = ..., **kwargs: Any) -> Any:
    """A config field stored encrypted and masked by the API."""
    extra = dict(kwargs.pop("json_schema_extra", None) or {})
    extra["secret"] = True
    if "default_factory" in kwargs:
        return Field(json_schema_extra=extra, **kwargs)
    return Field(default, json_schema_extra=extra, **kwargs)


class ChannelConfig(BaseModel):
    """Base of each notifier's settings; unknown keys are refused with a 422."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    timeout_seconds: float = Field(10.0, gt=0, le=120)


class Notifier(ABC):
    kind: ClassVar[str]
    label: ClassVar[str]
    Config: ClassVar[type[ChannelConfig]] = ChannelConfig
    rate_limits: ClassVar[tuple[RateLimit, ...]] = ()
    # Recipients (emails, phone numbers) come from the message or the channel's config.
    needs_recipients: ClassVar[bool] = False

    def __init__(self, config: ChannelConfig) -> None:
        self.config = config

    @classmethod
    def secret_fields(cls) -> frozenset[str]:
        return frozenset(
            name
            for name, info in cls.Config.model_fields.items()
            if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("secret")
        )

    @classmethod
    def parse_config(cls, data: dict[str, Any]) -> ChannelConfig:
        """Validates settings (raises pydantic.ValidationError naming the field)."""
        return cls.Config.model_validate(data)

    def rate_key(self) -> str | None:
        """Identifies the vendor robot for shared rate limits (None: no limit)."""
        return None

    @abstractmethod
    def send(self, message: Outgoing) -> SendResult:
        """Sends one message; transport errors may raise (the worker retries them)."""

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        """POST through the process-wide client, with this channel's timeout."""
        return shared_client().post(url, timeout=self.config.timeout_seconds, **kwargs)


_client: httpx.Client | None = None
_client_lock = threading.Lock()


def shared_client() -> httpx.Client:
    """One pooled client per process: building a client loads the CA bundle, which costs
    more than the request itself."""
    global _client
    with _client_lock:
        if _client is None:
            _client = httpx.Client(
                headers={"User-Agent": USER_AGENT},
                follow_redirects=False,
                trust_env=False,  # an intranet proxy variable must not reroute vendor calls
                limits=httpx.Limits(max_connections=50, max_keepalive_connections=10),
            )
        return _client


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def http_status_result(response: httpx.Response, *, vendor_code: str | None = None) -> SendResult:
    """Non-2xx replies: 408/425/429/5xx are worth retrying; other 4xx will fail again."""
    code = response.status_code
    text = response.text[:500]
    if code in (408, 425, 429) or code >= 500:
        return SendResult(
            Outcome.retry, code, vendor_code, f"HTTP {code}: {text}",
            retry_after=retry_after_seconds(response),
        )
    return SendResult(Outcome.failed, code, vendor_code, f"HTTP {code}: {text}")


def vendor_code_result(
    status_code: int,
    code: object,
    message: str,
    *,
    permanent: frozenset[str],
    rate_limited: frozenset[str] = frozenset(),
    rate_limit_wait: float = 60.0,
) -> SendResult:
    """A vendor error inside an HTTP 200. Known configuration errors are permanent; rate
    limits wait; anything unknown is retried (and dead-lettered if it persists)."""
    code_text = str(code)
    error = f"vendor code {code_text}: {message}"[:1000]
    if code_text in permanent:
        return SendResult(Outcome.failed, status_code, code_text, error)
    if code_text in rate_limited:
        return SendResult(Outcome.retry, status_code, code_text, error, retry_after=rate_limit_wait)
    return SendResult(Outcome.retry, status_code, code_text, error)


def unexpected_reply(response: httpx.Response) -> SendResult:
    """HTTP 200 without the vendor's JSON: a proxy page or an outage; try again later."""
    return SendResult(
        Outcome.retry, response.status_code, None, f"unexpected reply: {response.text[:300]}"
    )
