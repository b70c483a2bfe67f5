"""Which notifiers exist: the `npsloop.notifiers` entry-point group, plus the built-ins.

The built-ins are listed in pyproject.toml's entry points too; the fallback keeps them
available when the package metadata is stale (an editable install made before the entry
points were added). A broken third-party plugin is logged and skipped, never fatal.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points

from npsloop.notify.base import Notifier

log = logging.getLogger(__name__)
GROUP = "npsloop.notifiers"


def builtin_notifiers() -> dict[str, type[Notifier]]:
    from npsloop.notify.channels.aliyun_sms import AliyunSmsNotifier
    from npsloop.notify.channels.dingtalk import DingTalkNotifier
    from npsloop.notify.channels.email import EmailNotifier
    from npsloop.notify.channels.feishu import FeishuNotifier
    from npsloop.notify.channels.slack import SlackNotifier
    from npsloop.notify.channels.tencent_sms import TencentSmsNotifier
    from npsloop.notify.channels.webhook import WebhookNotifier
    from npsloop.notify.channels.wecom import WeComNotifier

    classes: list[type[Notifier]] = [
        DingTalkNotifier, FeishuNotifier, WeComNotifier, AliyunSmsNotifier,
        TencentSmsNotifier, EmailNotifier, SlackNotifier, WebhookNotifier,
    ]
    return {cls.kind: cls for cls in classes}


def discover(found: Iterable[EntryPoint] | None = None) -> dict[str, type[Notifier]]:
    """Built-ins, then every entry point (a plugin may add a kind or replace one)."""
    notifiers = builtin_notifiers()
    points = entry_points(group=GROUP) if found is None else found
    for point in points:
        try:
            cls = point.load()
        except Exception:  # noqa: BLE001 - one bad plugin must not take notifications down
            log.exception("notifier entry point %r failed to load", point.value)
            continue
        if not (isinstance(cls, type) and issubclass(cls, Notifier)):
            log.error("entry point %r is not a Notifier subclass; skipped", point.value)
            continue
        if point.name != cls.kind:
            log.warning("entry point name %r differs from kind %r", point.name, cls.kind)
        notifiers[cls.kind] = cls
    return notifiers


@lru_cache
def notifiers() -> dict[str, type[Notifier]]:
    return discover()


def notifier_class(kind: str) -> type[Notifier] | None:
    return notifiers().get(kind)
