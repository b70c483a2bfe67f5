"""What the public survey page needs from a personal link (`?inv=<token>`): the checked
invitation, the ingest input that ties the response to the contact, and the funnel marks.

One response per token: the response's idempotency key is derived from the invitation, so
the score tap (partial) and the submit complete the same response, and a submit after the
response is complete is refused with a clear message instead of counting twice.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from npsloop.contacts.models import Contact
from npsloop.distribution import service
from npsloop.distribution.models import Invitation
from npsloop.responses.models import Response, ResponseStatus
from npsloop.responses.schemas import ContactIn, ResponseCreate
from npsloop.surveys.models import Survey


def resolve(db: Session, survey: Survey, token: str) -> tuple[Invitation | None, str]:
    """(invitation, problem): problem is "" (usable), "invite_invalid", "invite_expired" or
    "answered"."""
    checked = service.check_token(db, token)
    invitation = checked.invitation
    if invitation is None or invitation.survey_id != survey.id \
            or invitation.org_id != survey.org_id:
        return None, "invite_invalid"
    if checked.problem == "expired":
        return invitation, "invite_expired"
    if invitation.completed_at is not None:
        return invitation, "answered"
    return invitation, ""


def idempotency_key(invitation: Invitation) -> str:
    return f"inv-{invitation.id}"


def mark_opened(db: Session, invitation: Invitation) -> None:
    if invitation.opened_at is None:
        service.mark_invitation(db, org_id=invitation.org_id, invitation_id=invitation.id,
                                event="opened")
        db.commit()


def personalise(db: Session, invitation: Invitation, data: ResponseCreate) -> ResponseCreate:
    """The ingest input for an invited contact: their contact (attributes snapshotted on the
    response by ingest), the invitation's channel and its one idempotency key."""
    contact = db.get(Contact, invitation.contact_id) if invitation.contact_id else None
    update: dict = {"idempotency_key": idempotency_key(invitation),
                    "channel": invitation.channel}
    if contact is not None:
        update["contact"] = ContactIn(external_id=contact.external_id)
    return data.model_copy(update=update)


def already_complete(db: Session, survey: Survey, invitation: Invitation) -> bool:
    status = db.scalar(select(Response.status).where(
        Response.org_id == survey.org_id, Response.survey_id == survey.id,
        Response.idempotency_key == idempotency_key(invitation)))
    return status == ResponseStatus.complete.value


def record(db: Session, invitation: Invitation, response: Response) -> None:
    """Started on the first saved score, completed with the complete response."""
    event = "completed" if response.status == ResponseStatus.complete.value else "started"
    service.mark_invitation(db, org_id=invitation.org_id, invitation_id=invitation.id,
                            event=event, response_id=response.id)
    db.commit()
