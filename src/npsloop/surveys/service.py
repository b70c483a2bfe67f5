"""Survey logic: create, edit, state changes, and reading a survey for one language."""

from __future__ import annotations

import struct
import zlib
from typing import Any

import qrcode
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from npsloop.analytics.stats import NpsSummary, summarize
from npsloop.responses.models import Response
from npsloop.surveys import defaults
from npsloop.surveys.models import Question, Survey, SurveyStatus
from npsloop.surveys.schemas import QuestionIn, SurveyCreate, SurveyUpdate

# closed is final for collection but a survey may be reopened as live; draft is only a start.
ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    "draft": {"draft", "live", "closed"},
    "live": {"live", "paused", "closed"},
    "paused": {"paused", "live", "closed"},
    "closed": {"closed", "live"},
}


class SurveyError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _questions_from(data: list[QuestionIn] | list[dict[str, Any]]) -> list[Question]:
    items = [q if isinstance(q, QuestionIn) else QuestionIn.model_validate(q) for q in data]
    return [
        Question(
            position=index,
            kind=q.kind.value,
            key=q.key,
            required=q.required,
            texts={lang: dict(text) for lang, text in q.texts.items()},
            options=list(q.options),
            show_if_categories=list(q.show_if_categories) if q.show_if_categories else None,
        )
        for index, q in enumerate(items)
    ]


def create_survey(session: Session, *, org_id: str, data: SurveyCreate) -> Survey:
    questions = data.questions or defaults.default_questions(data.drivers, data.brand)
    survey = Survey(
        org_id=org_id,
        name=data.name.strip(),
        nps_type=data.nps_type.value,
        journey_stage=data.journey_stage,
        touchpoint=data.touchpoint,
        status=data.status.value,
        languages=list(data.languages),
        default_language=data.default_language,
        description=data.description,
        questions=_questions_from(questions),
    )
    session.add(survey)
    session.flush()
    return survey


def update_survey(session: Session, *, survey: Survey, data: SurveyUpdate) -> Survey:
    changes = data.model_dump(exclude_unset=True, exclude={"questions"})
    if "status" in changes and changes["status"] is not None:
        target = SurveyStatus(changes["status"]).value
        if target not in ALLOWED_TRANSITIONS[survey.status]:
            raise SurveyError("status", f"cannot go from '{survey.status}' to '{target}'")
    for field, value in changes.items():
        if value is None:
            continue
        setattr(survey, field, value.value if hasattr(value, "value") else value)
    if survey.default_language not in survey.languages:
        raise SurveyError("default_language", "must be one of languages")
    if data.questions is not None:
        survey.questions.clear()
        session.flush()
        survey.questions.extend(_questions_from(data.questions))
    session.flush()
    return survey


def get_survey(session: Session, *, org_id: str, survey_id: str) -> Survey | None:
    """Tenancy lives here: a survey of another organisation is simply not found."""
    return session.scalar(select(Survey).where(Survey.id == survey_id, Survey.org_id == org_id))


def get_by_public_token(session: Session, token: str) -> Survey | None:
    return session.scalar(select(Survey).where(Survey.public_token == token))


def list_surveys(
    session: Session, *, org_id: str, status: str | None = None, limit: int = 100, offset: int = 0
) -> tuple[list[Survey], int]:
    query = select(Survey).where(Survey.org_id == org_id)
    if status:
        query = query.where(Survey.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Survey.created_at.desc()).limit(limit).offset(offset))
    return list(rows), total


def driver_keys(survey: Survey) -> list[str]:
    return [q.key for q in survey.questions if q.kind == "driver_rating"]


def localized_text(question: Question, lang: str, field: str = "text") -> str:
    texts = question.texts or {}
    for candidate in (lang, "en", "zh-CN"):
        value = (texts.get(candidate) or {}).get(field)
        if value:
            return str(value)
    return question.key


def followup_text(question: Question, lang: str, category: str) -> str:
    texts = question.texts or {}
    for candidate in (lang, "en", "zh-CN"):
        by_category = (texts.get(candidate) or {}).get("by_category") or {}
        if by_category.get(category):
            return str(by_category[category])
    return localized_text(question, lang)


def option_label(option: dict[str, Any], lang: str) -> str:
    labels = option.get("labels") or {}
    return str(labels.get(lang) or labels.get("en") or option.get("key", ""))


# --- Read models for the survey pages (aggregated in SQL, never row by row) ---------------


def response_summaries(
    session: Session, *, org_id: str, survey_ids: list[str], min_n: int = 30
) -> dict[str, NpsSummary]:
    """NPS, n and margin of error per survey id, counted by the database in one query.

    Grouped by id rather than by name (analytics' `group_by="survey"`) so two surveys that
    share a name keep their own numbers."""
    if not survey_ids:
        return {}
    query = (
        select(
            Response.survey_id,
            func.sum(case((Response.score >= 9, 1), else_=0)).label("promoters"),
            func.sum(case((Response.score.between(7, 8), 1), else_=0)).label("passives"),
            func.sum(case((Response.score <= 6, 1), else_=0)).label("detractors"),
        )
        .where(Response.org_id == org_id, Response.survey_id.in_(survey_ids))
        .group_by(Response.survey_id)
    )
    found = {
        row.survey_id: summarize(
            int(row.promoters or 0), int(row.passives or 0), int(row.detractors or 0), min_n
        )
        for row in session.execute(query)
    }
    return {sid: found.get(sid) or summarize(0, 0, 0, min_n) for sid in survey_ids}


def status_counts(session: Session, *, org_id: str) -> dict[str, int]:
    """How many of the organisation's surveys are in each status (for the list's tabs)."""
    rows = session.execute(
        select(Survey.status, func.count()).where(Survey.org_id == org_id).group_by(Survey.status)
    )
    return {status: int(count) for status, count in rows}


def used_values(session: Session, *, org_id: str, field: str) -> list[str]:
    """Distinct non-empty journey stages or touchpoints already used, as editor suggestions."""
    column = {"journey_stage": Survey.journey_stage, "touchpoint": Survey.touchpoint}[field]
    rows = session.scalars(
        select(column).where(Survey.org_id == org_id, column != "").distinct().order_by(column)
    )
    return list(rows)


def qr_png(text: str, *, scale: int = 8, border: int = 4) -> bytes:
    """A QR code of `text` as a PNG (8-bit greyscale).

    `qrcode` computes the matrix; the PNG is written with zlib so no imaging library
    (Pillow, pypng) is needed on the server."""
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=1, border=border
    )
    code.add_data(text)
    code.make(fit=True)
    matrix = code.get_matrix()
    size = len(matrix) * scale
    raw = bytearray()
    for row in matrix:
        line = b"\x00" + b"".join((b"\x00" if dark else b"\xff") * scale for dark in row)
        raw += line * scale  # each row starts with filter byte 0 (None)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(raw), 9))
        + chunk(b"IEND", b"")
    )
