"""API shapes for surveys and questions."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from npsloop.surveys.models import NpsType, QuestionKind, SurveyStatus

Language = Literal["zh-CN", "en"]
Category = Literal["promoter", "passive", "detractor"]
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class QuestionIn(BaseModel):
    kind: QuestionKind
    key: str = Field(description="machine key: 'nps', 'comment', a driver or choice name")
    required: bool = False
    texts: dict[Language, dict[str, Any]] = Field(default_factory=dict)
    options: list[dict[str, Any]] = Field(default_factory=list)
    show_if_categories: list[Category] | None = None

    @field_validator("key")
    @classmethod
    def _key_is_slug(cls, value: str) -> str:
        if not KEY_PATTERN.match(value):
            raise ValueError("must be lower-case letters, digits and '_' starting with a letter")
        return value

    @model_validator(mode="after")
    def _choices_have_options(self) -> QuestionIn:
        if self.kind in (QuestionKind.single_choice, QuestionKind.multiple_choice):
            if not self.options:
                raise ValueError("choice questions need at least one option")
            keys = [str(o.get("key", "")) for o in self.options]
            if any(not KEY_PATTERN.match(k) for k in keys) or len(set(keys)) != len(keys):
                raise ValueError("option keys must be unique slugs")
        return self


class QuestionOut(QuestionIn):
    model_config = ConfigDict(from_attributes=True)
    id: str
    position: int


def _check_questions(questions: list[QuestionIn] | None) -> None:
    if questions is None:
        return
    keys = [q.key for q in questions]
    if len(set(keys)) != len(keys):
        raise ValueError("questions: keys must be unique")
    if sum(q.kind == QuestionKind.nps for q in questions) != 1:
        raise ValueError("questions: exactly one question of kind 'nps' is required")


class SurveyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    nps_type: NpsType = NpsType.relationship
    journey_stage: str = Field("", max_length=100)
    touchpoint: str = Field("", max_length=100)
    status: SurveyStatus = SurveyStatus.draft
    languages: list[Language] = Field(default_factory=lambda: ["zh-CN", "en"], min_length=1)
    default_language: Language = "zh-CN"
    description: str = ""
    brand: str | None = Field(None, description="name used in the standard NPS wording")
    drivers: list[str] = Field(
        default_factory=list, description="driver keys to add as 1-5 ratings when questions unset"
    )
    questions: list[QuestionIn] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> SurveyCreate:
        if self.default_language not in self.languages:
            raise ValueError("default_language must be one of languages")
        for driver in self.drivers:
            if not KEY_PATTERN.match(driver):
                raise ValueError(f"drivers: '{driver}' is not a lower-case slug")
        _check_questions(self.questions)
        return self


class SurveyUpdate(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    nps_type: NpsType | None = None
    journey_stage: str | None = Field(None, max_length=100)
    touchpoint: str | None = Field(None, max_length=100)
    status: SurveyStatus | None = None
    languages: list[Language] | None = Field(None, min_length=1)
    default_language: Language | None = None
    description: str | None = None
    questions: list[QuestionIn] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> SurveyUpdate:
        _check_questions(self.questions)
        return self


class SurveyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    nps_type: NpsType
    journey_stage: str
    touchpoint: str
    status: SurveyStatus
    languages: list[str]
    default_language: str
    description: str
    public_url: str = ""
    created_at: datetime
    updated_at: datetime
    questions: list[QuestionOut]


class SurveyList(BaseModel):
    items: list[SurveyOut]
    total: int
