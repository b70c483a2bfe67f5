"""The survey editor's form: a survey or a posted form becomes an editable state, and back.

The editor is a plain HTML form. Extra question rows are named by a stable row id
(`q.<uid>.key`, `q.<uid>.opt.<ouid>.label.en`) and listed in page order by repeated `q`
fields, so adding, removing or moving a row (in the browser by survey_editor.js, or on the
server by the no-JS buttons handled in `apply_action`) never renumbers other fields.
Checking and the schema body live in editor_checks.py.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData

from npsloop.surveys import defaults
from npsloop.surveys.models import NpsType, Question, Survey, SurveyStatus

LANGS = ("zh-CN", "en")
CATEGORIES = ("promoter", "passive", "detractor")
EXTRA_KINDS = ("driver_rating", "single_choice", "multiple_choice")
CHOICE_KINDS = ("single_choice", "multiple_choice")
RESERVED_KEYS = ("nps", "comment")
UID_PATTERN = re.compile(r"^[a-z0-9]{1,16}$")
STATUS_ORDER = tuple(s.value for s in SurveyStatus)
NEW_SURVEY_STATUSES = ("draft", "live")

# A field error: (message key in the surveys locale, format parameters).
FieldError = tuple[str, dict[str, Any]]


def new_uid() -> str:
    return secrets.token_hex(4)


@dataclass
class OptionRow:
    uid: str
    key: str = ""
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class QuestionRow:
    """A driver rating or a reason (choice) question as the editor shows it."""

    uid: str
    kind: str
    key: str = ""
    required: bool = False
    texts: dict[str, str] = field(default_factory=dict)  # driver label or question text
    prompts: dict[str, str] = field(default_factory=dict)  # driver wording per language
    show_to: list[str] = field(default_factory=lambda: list(CATEGORIES))
    options: list[OptionRow] = field(default_factory=list)

    @property
    def is_choice(self) -> bool:
        return self.kind in CHOICE_KINDS

    @property
    def prompt_is_standard(self) -> bool:
        """No custom driver wording: the standard one is made from the label at save."""
        return not any(self.prompts.values())

    def wording(self, lang: str) -> str:
        """What respondents read for this driver in `lang`."""
        if self.prompts.get(lang):
            return self.prompts[lang]
        return standard_prompt(lang, self.texts.get(lang, ""))


def standard_prompt(lang: str, label: str) -> str:
    return defaults.DRIVER_PROMPT[lang].format(label=label) if label else ""


def _custom_prompts(prompts: dict[str, str], labels: dict[str, str]) -> dict[str, str]:
    """Keeps only wording that differs from the standard, so renaming a driver rewords it."""
    return {
        lang: text for lang, text in prompts.items()
        if text and text != standard_prompt(lang, labels.get(lang, ""))
    }


@dataclass
class EditorState:
    name: str = ""
    nps_type: str = NpsType.relationship.value
    journey_stage: str = ""
    touchpoint: str = ""
    languages: list[str] = field(default_factory=lambda: list(LANGS))
    default_language: str = "zh-CN"
    description: str = ""
    status: str = SurveyStatus.draft.value
    nps_texts: dict[str, str] = field(default_factory=dict)
    followup_enabled: bool = True
    followup_required: bool = False
    followup: dict[str, dict[str, str]] = field(default_factory=dict)
    rows: list[QuestionRow] = field(default_factory=list)

    def row(self, uid: str) -> QuestionRow | None:
        return next((r for r in self.rows if r.uid == uid), None)


# --- building a state -----------------------------------------------------------------


def state_for_new(brand: str | None, default_language: str = "zh-CN") -> EditorState:
    nps = defaults.nps_question(brand)["texts"]
    return EditorState(
        default_language=default_language if default_language in LANGS else "zh-CN",
        nps_texts={lang: nps[lang]["text"] for lang in LANGS},
        followup={lang: dict(defaults.FOLLOWUP_TEXT[lang]) for lang in LANGS},
    )


def _texts(question: Question, name: str = "text") -> dict[str, str]:
    return {lang: str((question.texts or {}).get(lang, {}).get(name) or "") for lang in LANGS}


def state_from_survey(survey: Survey) -> EditorState:
    state = EditorState(
        name=survey.name,
        nps_type=survey.nps_type,
        journey_stage=survey.journey_stage,
        touchpoint=survey.touchpoint,
        languages=[lang for lang in LANGS if lang in (survey.languages or [])],
        default_language=survey.default_language,
        description=survey.description or "",
        status=survey.status,
        followup_enabled=False,
        followup={lang: dict(defaults.FOLLOWUP_TEXT[lang]) for lang in LANGS},
    )
    for question in survey.questions:
        if question.kind == "nps":
            state.nps_texts = _texts(question)
        elif question.kind == "open_followup":
            state.followup_enabled = True
            state.followup_required = bool(question.required)
            for lang in LANGS:
                text = (question.texts or {}).get(lang) or {}
                by_category = text.get("by_category") or {}
                state.followup[lang] = {
                    cat: str(by_category.get(cat) or text.get("text") or "") for cat in CATEGORIES
                }
        elif question.kind in EXTRA_KINDS:
            state.rows.append(
                QuestionRow(
                    uid=new_uid(),
                    kind=question.kind,
                    key=question.key,
                    required=bool(question.required),
                    texts=_texts(question),
                    prompts=_custom_prompts(_texts(question, "prompt"), _texts(question)),
                    show_to=list(question.show_if_categories or CATEGORIES),
                    options=[
                        OptionRow(
                            uid=new_uid(),
                            key=str(o.get("key", "")),
                            labels={lang: str((o.get("labels") or {}).get(lang) or "")
                                    for lang in LANGS},
                        )
                        for o in question.options or []
                    ],
                )
            )
    if not state.nps_texts:
        state.nps_texts = state_for_new(None).nps_texts
    return state


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _uids(form: FormData, name: str) -> list[str]:
    seen: list[str] = []
    for value in form.getlist(name):
        if isinstance(value, str) and UID_PATTERN.match(value) and value not in seen:
            seen.append(value)
    return seen


def state_from_form(form: FormData) -> EditorState:
    """Everything the person typed, kept as typed (trimmed), valid or not."""
    state = EditorState(
        name=_text(form, "name"),
        nps_type=_text(form, "nps_type"),
        journey_stage=_text(form, "journey_stage"),
        touchpoint=_text(form, "touchpoint"),
        languages=[lang for lang in LANGS if lang in form.getlist("languages")],
        default_language=_text(form, "default_language"),
        description=_text(form, "description"),
        status=_text(form, "status"),
        nps_texts={lang: _text(form, f"nps.text.{lang}") for lang in LANGS},
        followup_enabled=form.get("followup.enabled") == "1",
        followup_required=form.get("followup.required") == "1",
        followup={
            lang: {cat: _text(form, f"followup.{lang}.{cat}") for cat in CATEGORIES}
            for lang in LANGS
        },
    )
    for uid in _uids(form, "q"):
        prefix = f"q.{uid}"
        kind = _text(form, f"{prefix}.kind")
        if kind not in EXTRA_KINDS:
            continue
        state.rows.append(
            QuestionRow(
                uid=uid,
                kind=kind,
                key=_text(form, f"{prefix}.key"),
                required=form.get(f"{prefix}.required") == "1",
                texts={lang: _text(form, f"{prefix}.text.{lang}") for lang in LANGS},
                prompts=_custom_prompts(
                    {lang: _text(form, f"{prefix}.prompt.{lang}") for lang in LANGS},
                    {lang: _text(form, f"{prefix}.text.{lang}") for lang in LANGS},
                ),
                show_to=[c for c in CATEGORIES if c in form.getlist(f"{prefix}.show_if")],
                options=[
                    OptionRow(
                        uid=ouid,
                        key=_text(form, f"{prefix}.opt.{ouid}.key"),
                        labels={lang: _text(form, f"{prefix}.opt.{ouid}.label.{lang}")
                                for lang in LANGS},
                    )
                    for ouid in _uids(form, f"{prefix}.opt")
                ]
                if kind in CHOICE_KINDS
                else [],
            )
        )
    return state


# --- the no-JS buttons: add, remove, move ---------------------------------------------


def driver_row(key: str) -> QuestionRow:
    """A driver from the catalog, worded in both languages; an unknown key gives a blank row."""
    labels = defaults.DRIVER_LABELS.get(key)
    if labels is None:
        return QuestionRow(uid=new_uid(), kind="driver_rating")
    return QuestionRow(uid=new_uid(), kind="driver_rating", key=key, texts=dict(labels))


def apply_action(state: EditorState, action: str, form: FormData) -> bool:
    """Applies an editing button's action to the state; False when `action` is not one."""
    verb, _, target = action.partition(":")
    if verb == "add_driver":
        state.rows.append(driver_row(_text(form, "driver_catalog")))
        return True
    if verb in ("add_single_choice", "add_multiple_choice"):
        kind = verb.removeprefix("add_")
        state.rows.append(QuestionRow(uid=new_uid(), kind=kind, options=[OptionRow(new_uid())]))
        return True
    uid, _, option_uid = target.partition(":")
    row = state.row(uid)
    if row is None:
        return verb in ("remove", "up", "down", "add_option", "remove_option")
    index = state.rows.index(row)
    if verb == "remove":
        state.rows.remove(row)
    elif verb in ("up", "down"):
        other = index - 1 if verb == "up" else index + 1
        if 0 <= other < len(state.rows):
            state.rows[index], state.rows[other] = state.rows[other], state.rows[index]
    elif verb == "add_option":
        row.options.append(OptionRow(new_uid()))
    elif verb == "remove_option":
        row.options = [o for o in row.options if o.uid != option_uid]
    else:
        return False
    return True
