"""Message templates in zh-CN and en: subject/title, body text, facts and a link.

Template wording lives in this domain's locale catalogs (`notify.tpl.<name>.*`), so both
languages are kept in step by the catalog test. Parameters are substituted with
`str.format`, which never re-interprets a value; the result is a plain-text `Notice` that
each channel escapes for its own markup, after mentions are neutralised.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any

from npsloop.core.i18n import normalize_language, translate
from npsloop.notify.base import Fact, Notice
from npsloop.notify.text import sanitize_notice, truncate_chars

MAX_QUOTE_CHARS = 2000


@dataclass(frozen=True)
class Template:
    facts: tuple[str, ...] = ()
    level: str = "info"
    link_label: str = "notify.link.open"


# Facts are shown in this order when the parameter is given and not empty.
TICKET_FACTS = ("priority", "status", "owner", "team", "due", "customer", "score", "survey",
                "touchpoint")
TEMPLATES: dict[str, Template] = {
    "test": Template(facts=("channel",)),
    "response.alert": Template(facts=("score", "customer", "survey", "touchpoint"),
                               level="warning", link_label="notify.link.response"),
    "ticket.created": Template(facts=TICKET_FACTS, level="warning",
                               link_label="notify.link.ticket"),
    "ticket.assigned": Template(facts=TICKET_FACTS, link_label="notify.link.ticket"),
    "ticket.updated": Template(facts=TICKET_FACTS, link_label="notify.link.ticket"),
    "ticket.escalated": Template(facts=TICKET_FACTS, level="critical",
                                 link_label="notify.link.ticket"),
    "ticket.reply": Template(facts=()),
}


class TemplateError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _format(key: str, lang: str, params: dict[str, Any]) -> str:
    text = translate(key, lang)
    missing = _fields(text) - params.keys()
    if missing:
        raise TemplateError("params", f"template {key!r} needs {', '.join(sorted(missing))}")
    return text.format(**{name: params[name] for name in _fields(text)})


def absolute_link(base_url: str, link: str) -> str:
    if not link or link.startswith(("http://", "https://")):
        return link
    return base_url.rstrip("/") + "/" + link.lstrip("/")


def render_notice(
    template: str,
    language: str,
    params: dict[str, Any] | None = None,
    *,
    quote: str = "",
    link: str = "",
    base_url: str = "",
) -> Notice:
    """Builds the notice for one template in one language (zh-CN or en)."""
    spec = TEMPLATES.get(template)
    if spec is None:
        raise TemplateError("template", f"unknown template {template!r}; one of "
                            f"{', '.join(sorted(TEMPLATES))}")
    lang = normalize_language(language) or "zh-CN"
    values = {k: "" if v is None else str(v) for k, v in (params or {}).items()}
    facts = tuple(
        Fact(name, translate(f"notify.fact.{name}", lang), values[name])
        for name in spec.facts
        if values.get(name)
    )
    notice = Notice(
        title=_format(f"notify.tpl.{template}.title", lang, values),
        text=_format(f"notify.tpl.{template}.text", lang, values),
        facts=facts,
        quote=truncate_chars(quote.strip(), MAX_QUOTE_CHARS),
        link_url=absolute_link(base_url, link),
        link_label=translate(spec.link_label, lang) if link else "",
        language=lang,
        level=spec.level,
    )
    return sanitize_notice(notice)
