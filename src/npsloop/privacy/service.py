"""A data subject's request carried out and written to the audit log, the same way from the
API, the privacy page and `DELETE /api/v1/contacts/{external_id}`."""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import Response
from sqlalchemy.orm import Session

from npsloop.accounts.service import audit
from npsloop.contacts.models import Contact
from npsloop.privacy import personal_data


def export_contact(session: Session, *, org_id: str, actor: str, contact: Contact
                   ) -> dict[str, Any]:
    document = personal_data.export_contact(session, org_id=org_id, contact=contact)
    audit(session, org_id=org_id, actor=actor, action="contact.export",
          target=("contact", contact.id), detail={"counts": document["counts"]})
    return document


def export_download(document: dict[str, Any], contact_id: str) -> Response:
    return Response(json.dumps(document, ensure_ascii=False, indent=1),
                    media_type="application/json", headers={
                        "Content-Disposition":
                            f'attachment; filename="contact-{contact_id[:12]}.json"',
                        "Cache-Control": "no-store"})


def erase_contact(session: Session, *, org_id: str, actor: str, contact: Contact,
                  action: str = "contact.erase") -> tuple[str, dict[str, int]]:
    """Erases the contact and logs a one-way token of the request (never the identifier);
    returns (token, rows touched per table). Never commits."""
    token = personal_data.erasure_token(org_id, contact.external_id)
    contact_id = contact.id
    rows = personal_data.erase_contact(session, org_id=org_id, contact=contact)
    audit(session, org_id=org_id, actor=actor, action=action, target=("contact", contact_id),
          detail={"erasure_token": token, "rows": rows})
    return token, rows
