"""Refuses NUL characters, and numbers no database can store, in request input with a 422,
before any route sees them.

PostgreSQL text cannot hold U+0000: a NUL in a name, an id or a query parameter would reach
the database and fail there as a 500 (SQLite would store it, and the two databases would
disagree). No legitimate input of npsloop contains one, so it is refused at the door, naming
where it was: the path, a query parameter, or the JSON / form field.
Uploaded files (multipart) are left to their parsers: XLSX files are binary.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

NUL = "\x00"
CHECKED_BODIES = ("application/json", "application/x-www-form-urlencoded")


def _json_location(value: Any, loc: list[Any]) -> list[Any] | None:
    if isinstance(value, str):
        return loc if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if NUL in key:
                return [*loc, key.replace(NUL, "\\u0000")]
            found = _json_location(item, [*loc, key])
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _json_location(item, [*loc, index])
            if found:
                return found
    return None


# NaN, Infinity and numbers too large for a float (1e400 parses as inf): Python's JSON reader
# takes them, PostgreSQL's json type refuses them (a 500), SQLite stores them (the databases
# would disagree). Only bodies that could hold one are parsed a second time.
MAYBE_NON_FINITE = re.compile(rb"NaN|Infinity|\d[eE]\+?\d{3,}")


def _non_finite(token: str) -> float:
    raise ValueError(token)


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(text)
    return value


def non_finite_location(body: bytes) -> list[Any] | None:
    """Where a JSON body holds a number no database column can take, or None."""
    if not MAYBE_NON_FINITE.search(body):
        return None
    try:
        json.loads(body, parse_constant=_non_finite, parse_float=_finite_float)
    except ValueError as exc:
        if isinstance(exc, json.JSONDecodeError):
            return None  # not JSON at all: the route reports that
        return ["body"]
    return None


def nul_location(path: str, query: bytes, content_type: str, body: bytes) -> list[Any] | None:
    """Where a NUL character is in the request, as a validation-error `loc`, or None."""
    if NUL in path:
        return ["path"]
    if b"%00" in query or b"\x00" in query:
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if NUL in name or NUL in value:
                return ["query", name.replace(NUL, "\\u0000")]
        return ["query"]
    if content_type == "application/json" and (b"\\u0000" in body or b"\x00" in body):
        try:
            return _json_location(json.loads(body), ["body"])
        except ValueError:
            return None  # not JSON at all: the route reports that
    if content_type == "application/x-www-form-urlencoded" and (
            b"%00" in body or b"\x00" in body):
        for name, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True):
            if NUL in name or NUL in value:
                return ["body", name.replace(NUL, "\\u0000")]
    return None


class RejectNulMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").decode("latin-1").split(";")[0]
        content_type = content_type.strip().lower()
        messages: list[Message] = []
        body = b""
        if content_type in CHECKED_BODIES:
            while True:  # buffer the body (FastAPI reads these whole anyway), then replay it
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request":
                    break
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
        loc = nul_location(scope.get("path", ""), scope.get("query_string", b""),
                           content_type, body)
        reason = "must not contain NUL characters (\\u0000)"
        if loc is None and content_type == "application/json":
            loc = non_finite_location(body)
            reason = "numbers must be finite (no NaN, Infinity or values beyond ±1.8e308)"
        if loc is not None:
            detail = [{"loc": loc, "msg": reason, "type": "value_error"}]
            await JSONResponse({"detail": detail}, status_code=422)(scope, receive, send)
            return
        if not messages:
            await self.app(scope, receive, send)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)
