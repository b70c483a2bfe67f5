"""Outbox subscriber: a completed response closes a follow-up loop and runs the rules.

Registered after the text-mining handler on the same event (domains load in name order), so
the comment is usually analysed already; `evaluate` analyses it itself when it is not. The
text-mining domain emits no event when an analysis finishes, so there is nothing else to
re-evaluate on.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from npsloop.core.db import utcnow
from npsloop.core.outbox import OutboxEvent, subscribe
from npsloop.responses.models import Response
from npsloop.tickets import evaluate, followups


@subscribe("response.completed")
def close_loop_and_run_rules(session: Session, event: OutboxEvent) -> None:
    response_id = (event.payload or {}).get("response_id")
    response = session.get(Response, response_id) if response_id else None
    if response is None or response.org_id != event.org_id:
        return
    now = utcnow()
    followups.link_answer(session, response, now)
    evaluate.evaluate_response(session, response, now)
