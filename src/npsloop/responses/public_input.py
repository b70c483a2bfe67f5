"""Answers posted by the public survey page (JSON from survey.js or a plain form post),
checked against the survey: skip logic, required questions, and errors that name the field
with a reason and a message in the respondent's language."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import FormData

from npsloop.analytics.stats import category_of
from npsloop.core.i18n import translate
from npsloop.responses.public_view import COMMENT_MAX
from npsloop.responses.schemas import Rating, ResponseCreate, Score
from npsloop.surveys.models import Survey

DRIVER_PREFIX = "driver_"
CHOICE_PREFIX = "choice_"


class PublicAnswer(BaseModel):
    """What an anonymous respondent may send: no contact, no backdating, no API channel."""

    model_config = ConfigDict(extra="forbid")

    score: Score
    comment: str = Field("", max_length=COMMENT_MAX)
    drivers: dict[str, Rating] = Field(default_factory=dict)
    choices: dict[str, list[str]] = Field(default_factory=dict)
    language: str | None = Field(None, max_length=16)
    channel: str | None = Field(None, max_length=32)
    idempotency_key: str | None = Field(
        None, min_length=8, max_length=128, pattern=r"^[A-Za-z0-9_-]+$"
    )
    status: Literal["partial", "complete"] = "complete"


@dataclass
class FieldError(Exception):
    """One bad field: `field` is dotted ("score", "drivers.price"), `reason` is for developers,
    `kind` picks the respondent-facing message."""

    field: str
    reason: str
    kind: str = "value_error"

    def message(self, lang: str) -> str:
        return translate(_message_key(self.field, self.kind), lang, max=COMMENT_MAX)

    def detail(self) -> list[dict[str, Any]]:
        loc = ["body", *self.field.split(".")] if self.field else ["body"]
        return [{"loc": loc, "msg": self.reason, "type": self.kind}]


def _message_key(field: str, kind: str) -> str:
    if field == "score":
        return "public.error.score"
    if kind == "required_question":
        return "public.error.required"
    if field == "comment":
        return "public.error.comment_too_long"
    if field.startswith("drivers."):
        return "public.error.unknown_question" if kind == "unknown" else "public.error.rating"
    if field.startswith("choices."):
        return "public.error.choice"
    return "public.error.invalid"


def _first_error(exc: ValidationError) -> FieldError:
    err = exc.errors()[0]
    field = ".".join(str(part) for part in err.get("loc", ()))
    kind = str(err.get("type", "value_error"))
    return FieldError(field, str(err.get("msg", "invalid")), kind)


def _as_int(value: str) -> int | str:
    """Form values arrive as text; digits become numbers, anything else stays text so the
    model rejects it with "valid integer" instead of it being silently dropped."""
    text = value.strip()
    return int(text) if text.lstrip("-").isdigit() else text


def form_to_dict(form: FormData) -> dict[str, Any]:
    """Maps the no-JS form (score radios, driver_<key> radios, choice_<key> boxes) to the
    same shape survey.js posts as JSON."""
    data: dict[str, Any] = {"drivers": {}, "choices": {}, "status": "complete"}
    score = form.get("score")
    if isinstance(score, str) and score.strip():
        data["score"] = _as_int(score)
    for name in ("comment", "idempotency_key"):
        value = form.get(name)
        if isinstance(value, str):
            data[name] = value
    data["language"] = form.get("lang") if isinstance(form.get("lang"), str) else None
    data["channel"] = form.get("ch") if isinstance(form.get("ch"), str) else None
    for name in form:
        values = [v for v in form.getlist(name) if isinstance(v, str) and v.strip()]
        if name.startswith(DRIVER_PREFIX) and values:
            data["drivers"][name[len(DRIVER_PREFIX):]] = _as_int(values[-1])
        elif name.startswith(CHOICE_PREFIX) and values:
            data["choices"][name[len(CHOICE_PREFIX):]] = values
    if not data.get("idempotency_key"):
        data.pop("idempotency_key", None)
    return data


def parse(raw: object) -> PublicAnswer:
    if not isinstance(raw, dict):
        raise FieldError("", "expected a JSON object", "model_type")
    if "score" not in raw:
        raise FieldError("score", "Field required", "missing")
    try:
        return PublicAnswer.model_validate(raw)
    except ValidationError as exc:
        raise _first_error(exc) from exc


def apply_survey_rules(survey: Survey, answer: PublicAnswer) -> PublicAnswer:
    """Drops answers to questions the respondent's category does not see (they may have
    answered, then changed their score) and checks required questions on a complete submit.
    Keys that are no question at all are left for ingest to reject by name."""
    category = category_of(answer.score)
    questions = {q.key: q for q in survey.questions}

    def visible(key: str) -> bool:
        q = questions.get(key)
        return q is None or not q.show_if_categories or category in q.show_if_categories

    drivers = {k: v for k, v in answer.drivers.items() if visible(k)}
    choices = {k: v for k, v in answer.choices.items() if visible(k)}
    comment = answer.comment.strip()
    followup = next((q for q in survey.questions if q.kind == "open_followup"), None)
    if followup is not None and not visible(followup.key):
        comment = ""
    if answer.status == "complete":
        for q in survey.questions:
            if not q.required or q.kind == "nps" or not visible(q.key):
                continue
            given = {
                "open_followup": bool(comment),
                "driver_rating": q.key in drivers,
            }.get(q.kind, bool(choices.get(q.key)))
            if not given:
                field = "comment" if q.kind == "open_followup" else (
                    f"drivers.{q.key}" if q.kind == "driver_rating" else f"choices.{q.key}"
                )
                raise FieldError(field, "this question is required", "required_question")
    return answer.model_copy(update={"drivers": drivers, "choices": choices, "comment": comment})


def to_create(answer: PublicAnswer, *, language: str, channel: str) -> ResponseCreate:
    return ResponseCreate(
        score=answer.score,
        comment=answer.comment,
        drivers=answer.drivers,
        choices=answer.choices,
        language=language,
        channel=channel,
        idempotency_key=answer.idempotency_key,
        status=answer.status,
    )
