"""Outbox subscribers: analyse a response's comment after it is saved.

Runs in the worker, never in the ingest request. A response is analysed on creation and
again on completion (the follow-up submit is usually what adds the comment); an unchanged
comment is skipped by its hash.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from npsloop.core.outbox import OutboxEvent, subscribe
from npsloop.responses.models import Response
from npsloop.textmining import service


@subscribe("response.created")
@subscribe("response.completed")
def analyse_comment(session: Session, event: OutboxEvent) -> None:
    response_id = (event.payload or {}).get("response_id")
    if not response_id:
        return
    response = session.get(Response, response_id)
    if response is None or response.org_id != event.org_id:
        return
    service.analyse_response(session, response)
