"""The ingest baseline: a minimal ASGI app that inserts one row per POST through psycopg.

No framework, no validation, no idempotency, no outbox event: the cost of HTTP + JSON + one
INSERT on the same PostgreSQL, which npsloop's ingest is measured against. Configured by
BENCH_DATABASE_URL, BENCH_ORG_ID and BENCH_SURVEY_ID; served by uvicorn like npsloop.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from typing import Any

import psycopg

POOL_SIZE = 15  # as many connections as npsloop's engine may open (5 + 10 overflow)
INSERT = """INSERT INTO responses (id, org_id, survey_id, score, category, comment, language,
    channel, status, idempotency_key, contact_attributes, submitted_at, created_at)
    VALUES (%s, %s, %s, %s, %s, %s, 'zh-CN', 'api', 'complete', %s, '{}', now(), now())"""


class Pool:
    """A fixed set of connections handed out through a queue."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[psycopg.AsyncConnection[Any]] | None = None

    async def get(self) -> psycopg.AsyncConnection[Any]:
        if self.queue is None:
            self.queue = asyncio.Queue()
            for _ in range(POOL_SIZE):
                self.queue.put_nowait(await psycopg.AsyncConnection.connect(
                    os.environ["BENCH_DATABASE_URL"], autocommit=True))
        return await self.queue.get()

    def put(self, conn: psycopg.AsyncConnection[Any]) -> None:
        assert self.queue is not None
        self.queue.put_nowait(conn)


pool = Pool()


async def read_body(receive: Any) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    if scope["method"] != "POST":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    data = json.loads(await read_body(receive))
    score = int(data["score"])
    category = "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
    row_id = uuid.uuid4().hex
    conn = await pool.get()
    try:
        await conn.execute(INSERT, (row_id, os.environ["BENCH_ORG_ID"],
                                    os.environ["BENCH_SURVEY_ID"], score, category,
                                    data.get("comment", ""), data.get("idempotency_key")))
    finally:
        pool.put(conn)
    body = json.dumps({"id": row_id, "score": score}).encode()
    await send({"type": "http.response.start", "status": 201,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})
