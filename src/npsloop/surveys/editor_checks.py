"""Checking the editor's state and turning it into a SurveyCreate / SurveyUpdate body.

`check` finds what a person can fix, field by field, named like the form's inputs; the
pydantic schemas stay the authority, and `map_validation_error` puts their errors back onto
the same field names so nothing is ever reported without a place next to a field.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from npsloop.surveys.editor_form import (
    CATEGORIES,
    LANGS,
    RESERVED_KEYS,
    EditorState,
    FieldError,
    QuestionRow,
)
from npsloop.surveys.models import NpsType
from npsloop.surveys.schemas import KEY_PATTERN

# --- checking ---------------------------------------------------------------------------


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    slug = re.sub(r"^[^a-z]+", "", slug)[:40].rstrip("_")
    return slug


def _unique(base: str, taken: set[str]) -> str:
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}_{n}", n + 1
    taken.add(candidate)
    return candidate


def fill_missing_keys(state: EditorState) -> None:
    """Empty keys get one made from the English wording, so nobody has to invent slugs."""
    taken = {row.key for row in state.rows if row.key} | set(RESERVED_KEYS)
    for number, row in enumerate(state.rows, start=1):
        if not row.key:
            fallback = "driver" if row.kind == "driver_rating" else "reason"
            row.key = _unique(slugify(row.texts.get("en", "")) or f"{fallback}_{number}", taken)
        option_keys = {o.key for o in row.options if o.key}
        for position, option in enumerate(row.options, start=1):
            if not option.key:
                base = slugify(option.labels.get("en", "")) or f"option_{position}"
                option.key = _unique(base, option_keys)


def check(state: EditorState, *, allowed_statuses: tuple[str, ...]) -> dict[str, FieldError]:
    """Field-level errors a person can fix, keyed by the form field's name."""
    errors: dict[str, FieldError] = {}
    if not state.name:
        errors["name"] = ("surveys.error.required", {})
    if state.nps_type not in {t.value for t in NpsType}:
        errors["nps_type"] = ("surveys.error.invalid_choice", {})
    if not state.languages:
        errors["languages"] = ("surveys.error.languages_required", {})
    elif state.default_language not in state.languages:
        errors["default_language"] = ("surveys.error.default_language", {})
    if state.status not in allowed_statuses:
        errors["status"] = ("surveys.error.status_transition", {})
    for lang in state.languages:
        if not state.nps_texts.get(lang):
            errors[f"nps.text.{lang}"] = ("surveys.error.required", {})
        if state.followup_enabled:
            for cat in CATEGORIES:
                if not state.followup.get(lang, {}).get(cat):
                    errors[f"followup.{lang}.{cat}"] = ("surveys.error.required", {})
    keys_seen: set[str] = set(RESERVED_KEYS)
    for row in state.rows:
        prefix = f"q.{row.uid}"
        if not KEY_PATTERN.match(row.key):
            errors[f"{prefix}.key"] = ("surveys.error.key_slug", {})
        elif row.key in keys_seen:
            errors[f"{prefix}.key"] = ("surveys.error.key_taken", {"value": row.key})
        keys_seen.add(row.key)
        for lang in state.languages:
            if not row.texts.get(lang):
                errors[f"{prefix}.text.{lang}"] = ("surveys.error.required", {})
        if not row.show_to:
            errors[f"{prefix}.show_if"] = ("surveys.error.show_if_required", {})
        if row.is_choice:
            _check_options(row, state.languages, errors)
    return errors


def _check_options(row: QuestionRow, languages: list[str], errors: dict[str, FieldError]) -> None:
    prefix = f"q.{row.uid}"
    if not row.options:
        errors[f"{prefix}.options"] = ("surveys.error.options_required", {})
    option_keys: set[str] = set()
    for option in row.options:
        name = f"{prefix}.opt.{option.uid}"
        if not KEY_PATTERN.match(option.key):
            errors[f"{name}.key"] = ("surveys.error.key_slug", {})
        elif option.key in option_keys:
            errors[f"{name}.key"] = ("surveys.error.key_taken", {"value": option.key})
        option_keys.add(option.key)
        for lang in languages:
            if not option.labels.get(lang):
                errors[f"{name}.label.{lang}"] = ("surveys.error.required", {})


# --- to the schemas and back ----------------------------------------------------------


def _question_payload(row: QuestionRow) -> dict[str, Any]:
    if row.kind == "driver_rating":
        texts = {
            lang: {"text": row.texts[lang], "prompt": row.wording(lang)}
            for lang in LANGS
            if row.texts.get(lang)
        }
    else:
        texts = {lang: {"text": row.texts[lang]} for lang in LANGS if row.texts.get(lang)}
    show_to = [c for c in CATEGORIES if c in row.show_to]
    return {
        "kind": row.kind,
        "key": row.key,
        "required": row.required,
        "texts": texts,
        "options": [
            {"key": o.key, "labels": {lang: o.labels[lang] for lang in LANGS if o.labels.get(lang)}}
            for o in row.options
        ],
        # Every category ticked means no condition at all.
        "show_if_categories": None if len(show_to) == len(CATEGORIES) else show_to,
    }


def to_payload(state: EditorState) -> tuple[dict[str, Any], list[str]]:
    """The body for SurveyCreate / SurveyUpdate, and each question's field-name prefix."""
    questions: list[dict[str, Any]] = [
        {
            "kind": "nps",
            "key": "nps",
            "required": True,
            "texts": {lang: {"text": state.nps_texts[lang]} for lang in LANGS
                      if state.nps_texts.get(lang)},
        }
    ]
    prefixes = ["nps"]
    if state.followup_enabled:
        texts = {
            lang: {
                "text": state.followup[lang]["passive"],
                "by_category": dict(state.followup[lang]),
            }
            for lang in LANGS
            if any(state.followup.get(lang, {}).values())
        }
        questions.append(
            {"kind": "open_followup", "key": "comment", "required": state.followup_required,
             "texts": texts}
        )
        prefixes.append("followup")
    for row in state.rows:
        questions.append(_question_payload(row))
        prefixes.append(f"q.{row.uid}")
    body = {
        "name": state.name,
        "nps_type": state.nps_type,
        "journey_stage": state.journey_stage,
        "touchpoint": state.touchpoint,
        "status": state.status,
        "languages": state.languages,
        "default_language": state.default_language,
        "description": state.description,
        "questions": questions,
    }
    return body, prefixes


def _model_error_field(message: str) -> tuple[str, FieldError]:
    if "default_language" in message:
        return "default_language", ("surveys.error.default_language", {})
    if "keys must be unique" in message:
        return "questions", ("surveys.error.key_taken", {"value": ""})
    if "kind 'nps'" in message:
        return "questions", ("surveys.error.nps_exactly_one", {})
    return "form", ("surveys.error.invalid", {})


def map_validation_error(exc: ValidationError, prefixes: list[str]) -> dict[str, FieldError]:
    """pydantic's errors as editor field errors (no field is ever left without a message)."""
    errors: dict[str, FieldError] = {}
    for err in exc.errors():
        loc = list(err.get("loc") or [])
        kind = str(err.get("type", ""))
        ctx = err.get("ctx") or {}
        if not loc:
            name, message = _model_error_field(str(err.get("msg", "")))
            errors.setdefault(name, message)
            continue
        if loc[0] == "questions" and len(loc) > 1 and isinstance(loc[1], int):
            prefix = prefixes[loc[1]] if loc[1] < len(prefixes) else "questions"
            name = f"{prefix}.{loc[2]}" if len(loc) > 2 else f"{prefix}.options"
        else:
            name = str(loc[0])
        if kind in ("missing", "string_too_short"):
            message: FieldError = ("surveys.error.required", {})
        elif kind == "string_too_long":
            message = ("surveys.error.too_long", {"max": ctx.get("max_length", "")})
        elif kind == "too_short" and name == "languages":
            message = ("surveys.error.languages_required", {})
        elif kind in ("enum", "literal_error"):
            message = ("surveys.error.invalid_choice", {})
        elif name.endswith(".key"):
            message = ("surveys.error.key_slug", {})
        elif name.endswith(".options"):
            message = ("surveys.error.option_keys", {})
        else:
            message = ("surveys.error.invalid", {})
        errors.setdefault(name, message)
    return errors
