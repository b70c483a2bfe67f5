"""Public, no-login routes of a personal invitation: `/i/{token}` opens the survey for the
invited contact, `/u/{token}` unsubscribes them (a confirm page, and RFC 8058 one-click
POST from the mail client's List-Unsubscribe button)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from npsloop.accounts.service import get_organization
from npsloop.contacts.models import Contact
from npsloop.core.deps import SessionDep
from npsloop.core.i18n import LANGUAGES, Translator, normalize_language
from npsloop.distribution import service
from npsloop.distribution.models import Invitation
from npsloop.surveys.models import Survey
from npsloop.web.templating import render

router = APIRouter(include_in_schema=False)
NO_STORE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow"}


def _language(request: Request, db: Session, invitation: Invitation | None) -> str:
    wanted = normalize_language(request.query_params.get("lang"))
    if wanted in LANGUAGES:
        return wanted
    if invitation is not None:
        contact = db.get(Contact, invitation.contact_id) if invitation.contact_id else None
        lang = normalize_language(invitation.language or (contact.language if contact else None))
        if lang in LANGUAGES:
            return lang
        survey = db.get(Survey, invitation.survey_id)
        if survey is not None and survey.default_language in LANGUAGES:
            return survey.default_language
    return "zh-CN"


def _page(request: Request, name: str, lang: str, context: dict, status_code: int = 200
          ) -> HTMLResponse:
    response = render(request, name, {"lang": lang, "t": Translator(lang), **context},
                      status_code=status_code)
    response.headers.update(NO_STORE)
    return response


@router.get("/i/{token}")
def open_invitation(token: str, request: Request, db: SessionDep) -> Response:
    """Counts the open and forwards to the survey page with the token (which checks it
    again on every submit)."""
    checked = service.check_token(db, token)
    invitation = checked.invitation
    lang = _language(request, db, invitation)
    survey = db.get(Survey, invitation.survey_id) if invitation is not None else None
    if invitation is None or survey is None:
        return _page(request, "respond/message.html", lang,
                     {"kind": "invite_invalid", "org_name": ""}, status_code=404)
    if checked.problem == "expired":
        org = get_organization(db, invitation.org_id)
        return _page(request, "respond/message.html", lang,
                     {"kind": "invite_expired", "org_name": org.name if org else ""},
                     status_code=410)
    if invitation.opened_at is None:
        service.mark_invitation(db, org_id=invitation.org_id, invitation_id=invitation.id,
                                event="opened")
        db.commit()
    query = urlencode({"inv": token, "lang": lang})
    return RedirectResponse(f"/s/{survey.public_token}?{query}", status_code=303,
                            headers=NO_STORE)


def _unsubscribe_context(db: Session, invitation: Invitation) -> dict:
    org = get_organization(db, invitation.org_id)
    return {"org_name": org.name if org else "", "channel": invitation.channel}


@router.get("/u/{token}", response_class=HTMLResponse)
def unsubscribe_page(token: str, request: Request, db: SessionDep) -> HTMLResponse:
    checked = service.check_token(db, token, purpose="unsubscribe")
    invitation = checked.invitation
    lang = _language(request, db, invitation)
    if invitation is None or invitation.contact_id is None:
        return _page(request, "respond/message.html", lang,
                     {"kind": "invite_invalid", "org_name": ""}, status_code=404)
    done = service.is_unsubscribed(db, org_id=invitation.org_id,
                                   contact_id=invitation.contact_id, channel=invitation.channel)
    return _page(request, "distribution/unsubscribe.html", lang,
                 {**_unsubscribe_context(db, invitation), "token": token, "done": done})


@router.post("/u/{token}", response_class=HTMLResponse)
def unsubscribe(token: str, request: Request, db: SessionDep) -> HTMLResponse:
    """Honoured at once: the contact's pending invitations on this channel are cancelled,
    the worker re-checks before every send, and campaigns skip the contact."""
    checked = service.check_token(db, token, purpose="unsubscribe")
    invitation = checked.invitation
    lang = _language(request, db, invitation)
    if invitation is None or invitation.contact_id is None:
        return _page(request, "respond/message.html", lang,
                     {"kind": "invite_invalid", "org_name": ""}, status_code=404)
    service.unsubscribe(db, invitation)
    db.commit()
    return _page(request, "distribution/unsubscribe.html", lang,
                 {**_unsubscribe_context(db, invitation), "token": token, "done": True})
