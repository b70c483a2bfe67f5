"""Outbox subscribers: domain events become signed outgoing webhooks.

Each handler only enqueues (in the outbox worker's transaction); the delivery worker sends.
The dedupe key is derived from the event, so an outbox retry never enqueues twice.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from npsloop.core.outbox import OutboxEvent, subscribe
from npsloop.notify import webhooks
from npsloop.responses.models import Response


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def response_payload(response: Response) -> dict[str, Any]:
    """The response as receivers get it under `data` of a `response.created` webhook."""
    return {
        "id": response.id,
        "survey_id": response.survey_id,
        "contact_id": response.contact_id,
        "score": response.score,
        "category": response.category,
        "comment": response.comment,
        "language": response.language,
        "channel": response.channel,
        "status": response.status,
        "contact_attributes": dict(response.contact_attributes or {}),
        "submitted_at": _iso(response.submitted_at),
        "completed_at": _iso(response.completed_at),
        "created_at": _iso(response.created_at),
        "answers": [
            {"question_key": a.question_key, "kind": a.kind, "number_value": a.number_value,
             "choice_values": a.choice_values}
            for a in response.answers
        ],
    }


@subscribe("response.created")
def response_created_webhooks(session: Session, event: OutboxEvent) -> None:
    response = session.get(Response, event.payload.get("response_id"))
    if response is None:  # deleted before the worker got to it: nothing to announce
        return
    webhooks.publish_event(
        session, org_id=event.org_id, event_type="response.created",
        data=response_payload(response), dedupe_key=f"response.created:{response.id}",
    )


def _ticket_event(session: Session, event: OutboxEvent) -> None:
    """Tickets emit `ticket.created` / `ticket.updated` with the ticket as the payload."""
    ticket_id = event.payload.get("ticket_id") or event.payload.get("id")
    webhooks.publish_event(
        session, org_id=event.org_id, event_type=event.topic, data=dict(event.payload),
        dedupe_key=f"{event.topic}:{event.id}",
        ordering_key=f"ticket:{ticket_id}" if ticket_id else None,
    )


subscribe("ticket.created")(_ticket_event)
subscribe("ticket.updated")(_ticket_event)
