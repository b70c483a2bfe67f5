"""HTML form fields for a notifier's settings, derived from its pydantic config model, and
the way back from submitted form values to a config dict. Works for third-party notifiers
too: a field without a translation shows its own name."""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

from npsloop.core.i18n import catalogs
from npsloop.notify.base import Notifier


@dataclass(frozen=True)
class FormField:
    name: str
    widget: str  # text | password | number | checkbox | select | lines | pairs
    label_key: str
    help: str
    required: bool
    choices: tuple[str, ...] = ()
    default: Any = None


def _widget(annotation: Any, secret: bool) -> tuple[str, tuple[str, ...]]:
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return "select", tuple(str(a) for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _widget(inner[0], secret) if inner else ("text", ())
    if annotation is bool:
        return "checkbox", ()
    if annotation in (int, float):
        return "number", ()
    if origin is list:
        return "lines", ()
    if origin is dict:
        return "pairs", ()
    return ("password" if secret else "text"), ()


def form_fields(cls: type[Notifier]) -> list[FormField]:
    secrets = cls.secret_fields()
    known = catalogs().get("en", {})
    fields = []
    # Required settings first, the shared timeout last (sorted() keeps the model's order
    # within each group).
    items = sorted(cls.Config.model_fields.items(),
                   key=lambda kv: (kv[0] == "timeout_seconds", not kv[1].is_required()))
    for name, info in items:
        widget, choices = _widget(info.annotation, name in secrets)
        key = f"notify.field.{name}"
        default = None
        if name not in secrets and not info.is_required():
            default = info.get_default(call_default_factory=True)
        fields.append(FormField(
            name=name, widget=widget, label_key=key if key in known else name,
            help=info.description or "", required=info.is_required(), choices=choices,
            default=default,
        ))
    return fields


def display_value(field: FormField, config: dict[str, Any]) -> str:
    """What the input shows: the stored value (never a secret) or the default."""
    if field.widget == "password":
        return ""
    value = config.get(field.name, field.default)
    if value is None:
        return ""
    if field.widget == "lines":
        return "\n".join(str(v) for v in value)
    if field.widget == "pairs":
        return "\n".join(f"{k}={v}" for k, v in dict(value).items())
    return str(value)


def parse_form(cls: type[Notifier], form: dict[str, str], *, editing: bool) -> dict[str, Any]:
    """Form strings to a config dict. An empty secret keeps the stored one when editing; an
    empty optional field falls back to its default."""
    config: dict[str, Any] = {}
    for field in form_fields(cls):
        raw = form.get(f"config.{field.name}")
        if field.widget == "checkbox":
            config[field.name] = raw is not None
            continue
        raw = (raw or "").strip()
        if field.widget == "lines":
            config[field.name] = [line.strip() for line in raw.splitlines() if line.strip()]
        elif field.widget == "pairs":
            pairs = [line.split("=", 1) for line in raw.splitlines() if line.strip()]
            config[field.name] = {k.strip(): (v[0].strip() if v else "")
                                  for k, *v in pairs}
        elif raw:
            config[field.name] = raw
        elif field.widget == "password" and editing:
            continue
        elif field.required:
            config[field.name] = ""  # let validation name the missing field
    return config
