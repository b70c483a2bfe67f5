"""What the public survey page shows: language and channel choice, and the questions of a
survey turned into plain dicts for the template (one language, skip logic as data)."""

from __future__ import annotations

from typing import Any

from npsloop.analytics.stats import category_of
from npsloop.core.i18n import normalize_language
from npsloop.surveys.models import Question, Survey
from npsloop.surveys.service import followup_text, localized_text, option_label

CATEGORIES = ("promoter", "passive", "detractor")
# Where a public link was opened from (?ch=). Anything else is counted as a plain link, so a
# hand-edited URL cannot invent channels in the reports.
PUBLIC_CHANNELS = ("link", "qr", "email", "sms", "wechat", "app", "widget", "kiosk")
DEFAULT_CHANNEL = "link"
COMMENT_MAX = 5000


def page_channel(value: str | None) -> str:
    slug = (value or "").strip().lower()
    return slug if slug in PUBLIC_CHANNELS else DEFAULT_CHANNEL


def _accepted(accept_language: str | None) -> list[str]:
    """Languages of an Accept-Language header, best first (q weights, then order)."""
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        lang = normalize_language(tag)
        if lang and quality > 0:
            weighted.append((-quality, index, lang))
    return [lang for _, _, lang in sorted(weighted)]


def page_language(
    survey: Survey | None, requested: str | None, accept_language: str | None,
    fallback: str = "zh-CN",
) -> str:
    """?lang= if the survey offers it, else the best Accept-Language match it offers, else the
    survey's default. Without a survey (the not-found page) any supported language goes."""
    offered = list(survey.languages) if survey else ["zh-CN", "en"]
    default = survey.default_language if survey else fallback
    candidates = [normalize_language(requested), *_accepted(accept_language)]
    for lang in candidates:
        if lang and lang in offered:
            return lang
    return default if default in offered else offered[0]


def _show(question: Question) -> str:
    """Space-separated categories for CSS `[data-show~=promoter]`; "" means always shown."""
    return " ".join(c for c in CATEGORIES if c in (question.show_if_categories or []))


def _followup(question: Question, lang: str) -> dict[str, Any]:
    return {
        "type": "followup",
        "key": question.key,
        "required": question.required,
        "show": _show(question),
        "generic": localized_text(question, lang),
        "by_category": {c: followup_text(question, lang, c) for c in CATEGORIES},
        "placeholder_key": "public.comment_placeholder",
    }


def _driver(question: Question, lang: str) -> dict[str, Any]:
    return {
        "key": question.key,
        "label": localized_text(question, lang),
        "required": question.required,
        "show": _show(question),
    }


def _choice(question: Question, lang: str) -> dict[str, Any]:
    return {
        "type": "choice",
        "key": question.key,
        "multiple": question.kind == "multiple_choice",
        "title": localized_text(question, lang),
        "required": question.required,
        "show": _show(question),
        "options": [
            {"key": str(o.get("key", "")), "label": option_label(o, lang)} for o in question.options
        ],
    }


def question_blocks(survey: Survey, lang: str) -> dict[str, Any]:
    """The NPS question plus the blocks shown after a score, in the survey's order.
    Consecutive driver ratings share one card with a single 1-5 heading."""
    nps_text = ""
    blocks: list[dict[str, Any]] = []
    for question in survey.questions:
        if question.kind == "nps":
            nps_text = localized_text(question, lang)
        elif question.kind == "open_followup":
            blocks.append(_followup(question, lang))
        elif question.kind == "driver_rating":
            if not blocks or blocks[-1]["type"] != "drivers":
                blocks.append({"type": "drivers", "items": []})
            blocks[-1]["items"].append(_driver(question, lang))
        elif question.kind in ("single_choice", "multiple_choice"):
            blocks.append(_choice(question, lang))
    for block in blocks:
        if block["type"] == "drivers":
            # The card hides only when every rating in it is hidden for the category.
            shows = [item["show"] for item in block["items"]]
            block["show"] = "" if "" in shows else " ".join(
                c for c in CATEGORIES if any(c in s.split() for s in shows)
            )
    return {"nps_text": nps_text, "blocks": blocks}


def score_buttons() -> list[dict[str, Any]]:
    return [{"value": n, "category": category_of(n)} for n in range(11)]
