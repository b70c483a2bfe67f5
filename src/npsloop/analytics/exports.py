"""Streamed exports of responses: one row per response with its answers (one column per
driver and per choice question), the contact's attributes as they were when it answered,
and fields other domains contribute (text analysis), as CSV or XLSX.

Memory stays flat however many responses match: the rows come from one query read with a
server-side cursor in batches (`yield_per`), CSV is written batch by batch to the response,
and XLSX uses openpyxl's write-only mode (rows go to a temporary file, never a DOM) and is
then sent in chunks. Cells that a spreadsheet would run as a formula (starting with =, +,
-, @, tab or carriage return) get a leading apostrophe. CSV starts with a UTF-8 byte order
mark so Excel opens Chinese text correctly.

Hook for other domains: a module `npsloop.<domain>.export_fields` defining
    COLUMNS: list[str]
    def export_values(session, *, org_id: str, response_ids: list[str])
        -> dict[str, dict[str, object]]   # response id -> {column: value}
is picked up automatically; a provider can also be registered with `register_export_fields`.
The text-mining domain's sentiment, keywords and topics come through analytics.text_fields.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import String, case, cast, func, select, true
from sqlalchemy.orm import Session

from npsloop.analytics.filters import Filters, apply_filters
from npsloop.contacts.models import Contact
from npsloop.registry import PACKAGE_DIR, domains
from npsloop.responses.models import Response, ResponseAnswer
from npsloop.surveys.models import Question, QuestionKind, Survey

BATCH = 1000
MAX_ATTRIBUTE_COLUMNS = 100
MAX_ANSWER_COLUMNS = 100
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"
BASE_COLUMNS = ["response_id", "survey", "submitted_at", "score", "category", "comment",
                "language", "channel", "status", "contact_external_id", "lifecycle_stage",
                "tags"]


class ExportFields(Protocol):
    COLUMNS: list[str]

    def export_values(
        self, session: Session, *, org_id: str, response_ids: list[str]
    ) -> dict[str, dict[str, object]]: ...


_registered: list[Any] = []


def register_export_fields(provider: Any) -> None:
    if provider not in _registered:
        _registered.append(provider)


def field_providers() -> list[Any]:
    from npsloop.analytics import text_fields

    found: list[Any] = [text_fields] if text_fields.available() else []
    found += _registered
    for domain in domains():
        if not (PACKAGE_DIR / domain / "export_fields.py").exists():
            continue
        module = importlib.import_module(f"npsloop.{domain}.export_fields")
        if hasattr(module, "COLUMNS") and hasattr(module, "export_values") and (
            module not in found
        ):
            found.append(module)
    return found


def neutralise(value: Any) -> Any:
    """A text cell that a spreadsheet would evaluate becomes plain text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


@dataclass(frozen=True)
class Layout:
    drivers: list[str]
    choices: list[str]
    attributes: list[str]
    extra: list[str]
    providers: list[Any]

    @property
    def header(self) -> list[str]:
        return [*BASE_COLUMNS, *(f"driver:{k}" for k in self.drivers),
                *(f"choice:{k}" for k in self.choices),
                *(f"attr:{k}" for k in self.attributes), *self.extra]


def _question_keys(
    session: Session, org_id: str, filters: Filters, kinds: list[str]
) -> list[str]:
    query = (
        select(Question.key).join(Survey, Survey.id == Question.survey_id)
        .where(Survey.org_id == org_id, Question.kind.in_(kinds))
        .order_by(Survey.created_at, Question.position)
    )
    for column, value in ((Survey.id, filters.survey_id), (Survey.nps_type, filters.nps_type),
                          (Survey.touchpoint, filters.touchpoint),
                          (Survey.journey_stage, filters.journey_stage)):
        if value:
            query = query.where(column == value)
    return list(dict.fromkeys(session.scalars(query)))[:MAX_ANSWER_COLUMNS]


def attribute_keys(session: Session, org_id: str, filters: Filters) -> list[str]:
    """The distinct keys of the matching responses' attribute snapshots, in SQL."""
    if session.get_bind().dialect.name == "postgresql":
        key = func.json_object_keys(Response.contact_attributes).label("key")
        inner = apply_filters(
            select(key).where(func.json_typeof(Response.contact_attributes) == "object"),
            org_id, filters,
        ).subquery()
        query = select(inner.c.key).distinct().order_by(inner.c.key)
    else:
        each = func.json_each(Response.contact_attributes).table_valued("key")
        query = apply_filters(select(each.c.key).select_from(Response).join(each, true()),
                              org_id, filters).distinct().order_by(each.c.key)
    return [str(k) for k in session.scalars(query.limit(MAX_ATTRIBUTE_COLUMNS))]


def layout(session: Session, *, org_id: str, filters: Filters) -> Layout:
    providers = field_providers()
    extra = [column for provider in providers for column in provider.COLUMNS]
    return Layout(
        drivers=_question_keys(session, org_id, filters, [QuestionKind.driver_rating.value]),
        choices=_question_keys(session, org_id, filters, [QuestionKind.single_choice.value,
                                                          QuestionKind.multiple_choice.value]),
        attributes=attribute_keys(session, org_id, filters),
        extra=extra,
        providers=providers,
    )


def _rows_query(org_id: str, filters: Filters, plan: Layout) -> Any:
    """One query: each response with its answers pivoted into columns. The pivot is a
    GROUP BY over the answers of the matching responses only (narrow rows to sort), joined
    back to the responses in submission order."""
    answer_columns: list[Any] = []
    pivot = None
    if plan.drivers or plan.choices:
        matching = apply_filters(select(Response.id), org_id, filters)
        cells = [
            func.max(case((ResponseAnswer.question_key == key, ResponseAnswer.number_value)))
            .label(f"d{index}") for index, key in enumerate(plan.drivers)
        ] + [
            func.max(case((ResponseAnswer.question_key == key,
                           cast(ResponseAnswer.choice_values, String)))).label(f"c{index}")
            for index, key in enumerate(plan.choices)
        ]
        pivot = (
            select(ResponseAnswer.response_id.label("rid"), *cells)
            .where(ResponseAnswer.org_id == org_id,
                   ResponseAnswer.question_key.in_([*plan.drivers, *plan.choices]),
                   ResponseAnswer.response_id.in_(matching))
            .group_by(ResponseAnswer.response_id)
            .subquery("pivot")
        )
        answer_columns = [pivot.c[f"d{i}"] for i in range(len(plan.drivers))] + [
            pivot.c[f"c{i}"] for i in range(len(plan.choices))]
    query = (
        select(Response.id, Survey.name, Response.submitted_at, Response.score,
               Response.category, Response.comment, Response.language, Response.channel,
               Response.status, Contact.external_id, Contact.lifecycle_stage,
               cast(Contact.tags, String), cast(Response.contact_attributes, String),
               *answer_columns)
        .select_from(Response)
        .join(Survey, Survey.id == Response.survey_id)
        .outerjoin(Contact, Contact.id == Response.contact_id)
        .order_by(Response.submitted_at, Response.id)
    )
    if pivot is not None:
        query = query.outerjoin(pivot, pivot.c.rid == Response.id)
    return apply_filters(query, org_id, filters)


def _json(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _cell(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def iter_rows(
    session: Session, *, org_id: str, filters: Filters, tz: str, plan: Layout
) -> Iterator[list[Any]]:
    """The header, then one list per response, read in batches from a server-side cursor."""
    zone = ZoneInfo(tz)
    yield plan.header
    n_drivers, n_choices = len(plan.drivers), len(plan.choices)
    result = session.execute(
        _rows_query(org_id, filters, plan), execution_options={"yield_per": BATCH}
    )
    for batch in result.partitions():
        extra: list[dict[str, dict[str, object]]] = []
        if plan.providers:
            ids = [row[0] for row in batch]
            extra = [p.export_values(session, org_id=org_id, response_ids=ids)
                     for p in plan.providers]
        for row in batch:
            (response_id, survey, submitted_at, score, category, comment, language, channel,
             status, external_id, stage, tags_text, attributes_text) = row[:13]
            attributes = _json(attributes_text) or {}
            tags = _json(tags_text) or []
            answers = row[13:]
            line: list[Any] = [
                response_id, survey,
                submitted_at.astimezone(zone).isoformat() if submitted_at else None,
                score, category, comment, language, channel, status, external_id,
                attributes.get("lifecycle_stage") or stage,
                "; ".join(map(str, tags)) if isinstance(tags, list) else None,
            ]
            line += [_cell(v) for v in answers[:n_drivers]]
            for text in answers[n_drivers:n_drivers + n_choices]:
                values = _json(text)
                line.append("; ".join(map(str, values)) if isinstance(values, list) else None)
            for key in plan.attributes:
                value = attributes.get(key) if isinstance(attributes, dict) else None
                line.append(json.dumps(value, ensure_ascii=False)
                            if isinstance(value, dict | list) else value)
            for provider, values in zip(plan.providers, extra, strict=True):
                found = values.get(response_id, {})
                line += [found.get(column) for column in provider.COLUMNS]
            # Inline neutralise(): this loop runs once per exported cell.
            yield ["'" + v if v.__class__ is str and v.startswith(FORMULA_STARTS) else v
                   for v in line]


def csv_chunks(rows: Iterator[list[Any]], rows_per_chunk: int = BATCH) -> Iterator[bytes]:
    """UTF-8 CSV with a byte order mark, yielded every `rows_per_chunk` rows."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer)
    pending = 0
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
        pending += 1
        if pending >= rows_per_chunk:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


def xlsx_chunks(
    rows: Iterator[list[Any]], sheet: str = "responses", chunk_size: int = 64 * 1024
) -> Iterator[bytes]:
    """An XLSX workbook built in openpyxl's write-only mode, then streamed from disk."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(sheet)
    for row in rows:
        worksheet.append(row)
    with tempfile.TemporaryFile() as handle:
        workbook.save(handle)
        handle.seek(0)
        while chunk := handle.read(chunk_size):
            yield chunk


def table_csv(rows: list[list[Any]]) -> bytes:
    return b"".join(csv_chunks(iter([[neutralise(v) for v in row] for row in rows])))


def table_xlsx(rows: list[list[Any]], sheet: str) -> bytes:
    return b"".join(xlsx_chunks(iter([[neutralise(v) for v in row] for row in rows]),
                                sheet=sheet))
