"""The fast path of `POST /api/v1/surveys/{survey_id}/responses`, ahead of the framework.

The ordinary route spends ~7 ms of CPU per post on an integration's hot path: dependency
resolution, three thread-pool hops, the ORM's unit of work, a transaction per response.
This pure ASGI middleware takes the common case only, an API key posting a response without
a contact, and answers it byte for byte as the route would (same status, headers and JSON):

- the body is validated by the route's own model (ResponseCreate) and service.validate_response,
  against the key and survey from short-lived caches (responses/ingest_cache.py);
- the response is stored through the group-commit writer (responses/group_commit.py),
  one transaction per batch of concurrent posts, with its answers and outbox events.

Everything else falls through to the route unchanged, with the body it already read: other
paths and methods, session (cookie) sign-in, a contact in the body, anything invalid or
unusual (its error is answered by the route, so it is the route's error exactly), a
replay of a partial response (the route completes it), a database fault. Switched off by
NPSLOOP_INGEST_GROUP_COMMIT=false (docs/operations.md).

It sits outside admission control: a post waiting for its batch holds no connection; the
writers and the cache refills take an admission slot each while they use one.
"""

from __future__ import annotations

import json
import logging
import os
import re
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from npsloop.accounts.service import role_can
from npsloop.analytics.stats import category_of
from npsloop.core import dbfaults
from npsloop.core.admission import AdmissionSlots
from npsloop.core.db import utcnow
from npsloop.core.input_guard import MAYBE_NON_FINITE
from npsloop.responses import service
from npsloop.responses.group_commit import GroupCommit
from npsloop.responses.ingest_cache import IngestLookups
from npsloop.responses.ingest_sql import NewResponse
from npsloop.responses.models import ResponseStatus
from npsloop.responses.schemas import ResponseCreate, ResponseOut

log = logging.getLogger(__name__)
PATH = re.compile(r"/api/v1/surveys/([^/]+)/responses")
MAX_BODY_BYTES = 1_000_000  # larger posts go to the route (it reads them as it always did)
_serialize = ResponseOut.__pydantic_serializer__


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


def _is_json(content_type: bytes | None) -> bool:
    # Only what input_guard.RejectNulMiddleware checks, so skipping it changes nothing.
    if content_type is None:
        return False
    return content_type.split(b";")[0].strip().lower() == b"application/json"


def _response_messages(status: int, out: dict[str, Any], replay: bool) -> list[Message]:
    # As FastAPI renders a response_model (pydantic's JSON) plus the route's extra header.
    body = _serialize.to_json(ResponseOut.model_validate(out))
    headers = [(b"content-length", str(len(body)).encode()),
               (b"content-type", b"application/json")]
    if replay:
        headers.append((b"idempotent-replay", b"true"))
    return [{"type": "http.response.start", "status": status, "headers": headers},
            {"type": "http.response.body", "body": body}]


def _failure_messages(error: BaseException, survey_id: str) -> list[Message]:
    """As the app's handlers answer an error of the route's own commit: 503 for a fault a
    client can wait out (app.database_fault), otherwise a 500."""
    reason = dbfaults.classify(error)
    if reason is None:
        log.error("ingest commit failed on survey %s", survey_id, exc_info=error)
        body, status, first = b"Internal Server Error", 500, []
        media_type = b"text/plain; charset=utf-8"
    else:
        log.warning("database fault on POST /api/v1/surveys/%s/responses: %s", survey_id,
                    reason)
        body = json.dumps({"detail": dbfaults.MESSAGES[reason], "reason": reason},
                          ensure_ascii=False, separators=(",", ":")).encode()
        status, media_type = 503, b"application/json"
        first = [(b"retry-after", str(dbfaults.RETRY_AFTER_S).encode())]
    headers = [*first, (b"content-length", str(len(body)).encode()),
               (b"content-type", media_type)]
    return [{"type": "http.response.start", "status": status, "headers": headers},
            {"type": "http.response.body", "body": body}]


class IdPool:
    """Ids in the format of core.db.new_id (a random UUID4's hex), drawn from one read of
    the system's random source per 256 ids: one read per id cost ~20 us a post under load,
    three ids a post."""

    def __init__(self, batch: int = 256) -> None:
        self.batch = batch
        self._ids: list[str] = []

    def take(self) -> str:
        try:
            return self._ids.pop()
        except IndexError:
            chunk = os.urandom(16 * self.batch)
            self._ids = [self._format(chunk[i:i + 16]) for i in range(0, len(chunk), 16)]
            return self._ids.pop()

    @staticmethod
    def _format(random16: bytes) -> str:
        # What uuid.UUID(bytes=..., version=4) does: variant RFC 4122, version 4.
        value = int.from_bytes(random16, "big")
        value = (value & ~(0xC000 << 48)) | (0x8000 << 48)
        value = (value & ~(0xF000 << 64)) | (4 << 76)
        return f"{value:032x}"


_ids = IdPool()
new_id = _ids.take


def new_response(survey_org: str, survey_id: str, data: ResponseCreate,
                 checked: dict[str, Any]) -> NewResponse:
    """The row service.ingest would build for a response without a contact."""
    answers: list[dict[str, Any]] = [
        {"id": new_id(), "question_key": key, "kind": "driver_rating", "number_value": rating,
         "choice_values": None} for key, rating in data.drivers.items()]
    answers += [
        {"id": new_id(), "question_key": key, "kind": "choice", "number_value": None,
         "choice_values": list(values)} for key, values in data.choices.items()]
    complete = data.status == ResponseStatus.complete.value
    return NewResponse(
        id=new_id(), org_id=survey_org, survey_id=survey_id, score=data.score,
        category=category_of(data.score), comment=data.comment.strip(),
        language=checked["language"], channel=data.channel, status=data.status,
        idempotency_key=data.idempotency_key, submitted_at=checked["submitted_at"],
        completed_at=utcnow() if complete else None, answers=answers,
        event_ids=[new_id() for _ in range(2 if complete else 1)])


def find(app: Any) -> FastIngestMiddleware | None:
    """The app's fast-path middleware once its stack is built (after a first request)."""
    layer = getattr(app, "middleware_stack", None)
    while layer is not None and not isinstance(layer, FastIngestMiddleware):
        layer = getattr(layer, "app", None)
    return layer


class FastIngestMiddleware:
    def __init__(self, app: ASGIApp, session_factory: sessionmaker[Session],
                 slots: AdmissionSlots | None = None) -> None:
        self.app = app
        self.lookups = IngestLookups(session_factory, slots)
        self.group_commit = GroupCommit(session_factory, slots)
        self.answered = 0  # posts this path answered itself (the rest went to the route)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, self._on_shutdown(receive), send)
            return
        if (scope["type"] != "http" or scope["method"] != "POST"
                or not scope["path"].endswith("/responses")):
            await self.app(scope, receive, send)
            return
        match = PATH.fullmatch(scope["path"])
        auth = _header(scope, b"authorization")
        if (match is None or scope.get("root_path") or auth is None
                or auth[:7].lower() != b"bearer "
                or not _is_json(_header(scope, b"content-type"))
                or b"%00" in scope.get("query_string", b"")
                or b"\x00" in scope.get("query_string", b"")):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = b""
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body") or len(body) > MAX_BODY_BYTES:
                break
        answer = None
        if messages[-1]["type"] == "http.request" and not messages[-1].get("more_body"):
            answer = await self._answer(match.group(1), auth[7:].decode("latin-1").strip(),
                                        body)
        if answer is not None:
            self.answered += 1
            for message in answer:
                await send(message)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    def _on_shutdown(self, receive: Receive) -> Receive:
        async def watch() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                self.group_commit.stop()
            return message

        return watch

    async def _answer(self, survey_id: str, api_key: str, body: bytes) -> list[Message] | None:
        """The response messages, or None: the route must answer this post."""
        if "\x00" in survey_id or b"\\u0000" in body or b"\x00" in body or (
                MAYBE_NON_FINITE.search(body)):
            return None  # the route's input guard answers these
        try:
            raw = json.loads(body)  # as the route reads it (Request.json)
        except ValueError:
            return None
        if not isinstance(raw, dict) or raw.get("contact") is not None:
            return None
        try:
            data = ResponseCreate.model_validate(raw)
        except ValidationError:
            return None
        try:
            key = await self.lookups.api_key(api_key)
            if key is None or not role_can(key.role, "response:write"):
                return None
            survey = await self.lookups.survey(key.org_id, survey_id)
        except Exception:  # noqa: BLE001 - e.g. the database is down: the route answers 503
            log.warning("ingest lookup failed; the route answers", exc_info=True)
            return None
        if survey is None:
            return None
        try:
            checked = service.validate_response(survey, data, allow_backdate=True)
        except service.IngestError:
            return None
        outcome = await self.group_commit.submit(
            new_response(survey.org_id, survey.id, data, checked))
        if outcome.error is not None:
            return _failure_messages(outcome.error, survey_id)
        if outcome.response is None:
            return None
        created = outcome.kind == "created"
        return _response_messages(201 if created else 200, outcome.response, not created)
