"""The statements the group-commit writer runs: a batch of validated responses stored in one
transaction, with their answers and outbox events, exactly as `service.ingest` stores one.

PostgreSQL: one statement per batch. The rows travel as three JSON documents unpacked by
`json_to_recordset`; data-modifying CTEs insert responses (ON CONFLICT DO NOTHING on the
idempotency key), then only the answers and events of the rows that were inserted. The
rollup's statement-level triggers run once for the batch instead of once per response.
SQLite: the same rows through SQLAlchemy Core (so values are stored in the very format the
ORM uses), one response at a time to learn which keys already existed, in one transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, tuple_
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from npsloop.core.outbox import OutboxEvent
from npsloop.responses.models import Response, ResponseAnswer, ResponseStatus

responses_table = Response.__table__
answers_table = ResponseAnswer.__table__
events_table = OutboxEvent.__table__
IDEMPOTENCY_KEY = ("org_id", "survey_id", "idempotency_key")


@dataclass
class NewResponse:
    """One validated response, its answers and its outbox events, ids chosen in advance."""

    id: str
    org_id: str
    survey_id: str
    score: int
    category: str
    comment: str
    language: str
    channel: str
    status: str
    idempotency_key: str | None
    submitted_at: datetime
    completed_at: datetime | None
    # {"id", "question_key", "kind", "number_value", "choice_values"}, in service._answers order
    answers: list[dict[str, Any]] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)  # created (+ completed)

    @property
    def key(self) -> tuple[str, str, str] | None:
        if self.idempotency_key is None:
            return None
        return (self.org_id, self.survey_id, self.idempotency_key)

    def topics(self) -> list[str]:
        if self.status == ResponseStatus.complete.value:
            return ["response.created", "response.completed"]
        return ["response.created"]

    def as_out(self) -> dict[str, Any]:
        """The fields of ResponseOut, as the slow path returns a response it just created."""
        return {
            "id": self.id, "survey_id": self.survey_id, "contact_id": None,
            "score": self.score, "category": self.category, "comment": self.comment,
            "language": self.language, "channel": self.channel, "status": self.status,
            "idempotency_key": self.idempotency_key, "contact_attributes": {},
            "submitted_at": self.submitted_at, "completed_at": self.completed_at,
            "answers": [{k: a.get(k) for k in ("question_key", "kind", "number_value",
                                                "choice_values")} for a in self.answers],
        }


PG_INSERT_BATCH = """WITH inserted AS (
  INSERT INTO responses (id, org_id, survey_id, contact_id, score, category, comment,
      language, channel, status, idempotency_key, contact_attributes, submitted_at,
      completed_at, created_at)
  SELECT r.id, r.org_id, r.survey_id, NULL, r.score, r.category, r.comment, r.language,
      r.channel, r.status, r.idempotency_key, '{}'::json, r.submitted_at, r.completed_at,
      %(now)s
  FROM json_to_recordset(%(responses)s::json) AS r(id text, org_id text, survey_id text,
      score int, category text, comment text, language text, channel text, status text,
      idempotency_key text, submitted_at timestamptz, completed_at timestamptz)
  ON CONFLICT (org_id, survey_id, idempotency_key) DO NOTHING
  RETURNING id
), answers AS (
  INSERT INTO response_answers (id, response_id, org_id, question_key, kind, number_value,
      choice_values)
  SELECT a.id, a.response_id, a.org_id, a.question_key, a.kind, a.number_value,
      a.choice_values
  FROM json_to_recordset(%(answers)s::json) AS a(id text, response_id text, org_id text,
      question_key text, kind text, number_value float8, choice_values json)
  WHERE a.response_id IN (SELECT id FROM inserted)
), events AS (
  INSERT INTO outbox_events (id, org_id, topic, payload, status, attempts, available_at,
      locked_by, locked_until, last_error, created_at, done_at)
  SELECT e.id, e.org_id, e.topic, e.payload, 'pending', 0, %(now)s, NULL, NULL, '',
      %(now)s, NULL
  FROM json_to_recordset(%(events)s::json) AS e(id text, org_id text, topic text,
      payload json, response_id text)
  WHERE e.response_id IN (SELECT id FROM inserted)
)
SELECT id FROM inserted"""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _event_rows(row: NewResponse) -> list[dict[str, Any]]:
    payload = {"response_id": row.id, "survey_id": row.survey_id}
    return [{"id": event_id, "org_id": row.org_id, "topic": topic, "payload": payload,
             "response_id": row.id} for event_id, topic in zip(row.event_ids, row.topics(),
                                                               strict=True)]


def _pg_insert(connection: Connection, rows: list[NewResponse], now: datetime) -> set[str]:
    responses = [{
        "id": r.id, "org_id": r.org_id, "survey_id": r.survey_id, "score": r.score,
        "category": r.category, "comment": r.comment, "language": r.language,
        "channel": r.channel, "status": r.status, "idempotency_key": r.idempotency_key,
        "submitted_at": _iso(r.submitted_at), "completed_at": _iso(r.completed_at),
    } for r in rows]
    answers = [{**a, "response_id": r.id, "org_id": r.org_id} for r in rows for a in r.answers]
    events = [event for r in rows for event in _event_rows(r)]
    params = {"responses": json.dumps(responses), "answers": json.dumps(answers),
              "events": json.dumps(events), "now": now}
    return {row[0] for row in connection.exec_driver_sql(PG_INSERT_BATCH, params)}


def _sqlite_insert(connection: Connection, rows: list[NewResponse], now: datetime) -> set[str]:
    inserted: set[str] = set()
    insert_response = sqlite_insert(responses_table).on_conflict_do_nothing(
        index_elements=list(IDEMPOTENCY_KEY))
    for r in rows:
        result = connection.execute(insert_response, {
            "id": r.id, "org_id": r.org_id, "survey_id": r.survey_id, "contact_id": None,
            "score": r.score, "category": r.category, "comment": r.comment,
            "language": r.language, "channel": r.channel, "status": r.status,
            "idempotency_key": r.idempotency_key, "contact_attributes": {},
            "submitted_at": r.submitted_at, "completed_at": r.completed_at, "created_at": now,
        })
        if result.rowcount == 1:
            inserted.add(r.id)
    stored = [r for r in rows if r.id in inserted]
    # Columns a kind leaves unset stay SQL NULL, as the ORM leaves them (not JSON null).
    for kind, columns in (("driver_rating", ("number_value",)), ("choice", ("choice_values",))):
        answers = [{"id": a["id"], "response_id": r.id, "org_id": r.org_id,
                    "question_key": a["question_key"], "kind": kind,
                    **{c: a[c] for c in columns}}
                   for r in stored for a in r.answers if a["kind"] == kind]
        if answers:
            connection.execute(answers_table.insert(), answers)
    events = [{"id": e["id"], "org_id": e["org_id"], "topic": e["topic"],
               "payload": e["payload"], "status": "pending", "attempts": 0,
               "available_at": now, "last_error": "", "created_at": now}
              for r in stored for e in _event_rows(r)]
    if events:
        connection.execute(events_table.insert(), events)
    return inserted


def insert_batch(connection: Connection, rows: list[NewResponse], now: datetime) -> set[str]:
    """Inserts the rows whose idempotency key is new (no two rows may share one); returns
    the ids that were inserted. Runs inside the caller's transaction."""
    if connection.dialect.name == "postgresql":
        return _pg_insert(connection, rows, now)
    return _sqlite_insert(connection, rows, now)


def existing_responses(connection: Connection, keys: list[tuple[str, str, str]]
                       ) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The stored responses for these idempotency keys, as ResponseOut fields."""
    if not keys:
        return {}
    c = responses_table.c
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    query = select(c.id, c.org_id, c.survey_id, c.contact_id, c.score, c.category, c.comment,
                   c.language, c.channel, c.status, c.idempotency_key, c.contact_attributes,
                   c.submitted_at, c.completed_at).where(
        tuple_(c.org_id, c.survey_id, c.idempotency_key).in_(keys))
    by_id: dict[str, dict[str, Any]] = {}
    for row in connection.execute(query).mappings():
        out = {k: v for k, v in row.items() if k != "org_id"}
        out["answers"] = []
        found[(row["org_id"], row["survey_id"], row["idempotency_key"])] = out
        by_id[row["id"]] = out
    if by_id:
        a = answers_table.c
        for answer in connection.execute(
                select(a.response_id, a.question_key, a.kind, a.number_value, a.choice_values)
                .where(a.response_id.in_(list(by_id)))).mappings():
            by_id[answer["response_id"]]["answers"].append(
                {k: answer[k] for k in ("question_key", "kind", "number_value",
                                        "choice_values")})
    return found
