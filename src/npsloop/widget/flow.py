"""What the widget's public calls do, without HTTP: identify a visitor, record what they did
and ask targeting whether to invite them, then follow the invitation through shown,
dismissed and answered.

Who may be invited is decided by `targeting.decide.decide` alone (segments, triggers,
fatigue); this module only finds an invitation that is already pending for the visitor (a
trigger may have created one with a delay) before asking for a new one, so a page load never
stacks two popups.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from npsloop.contacts import service as contacts
from npsloop.contacts.attributes import AttributeRegistry
from npsloop.contacts.events import EventInput, record_events
from npsloop.contacts.models import Contact
from npsloop.core.db import utcnow
from npsloop.core.i18n import translate
from npsloop.distribution import service as distribution
from npsloop.distribution.models import Invitation
from npsloop.responses import service as responses
from npsloop.responses.models import Response
from npsloop.responses.public_view import CATEGORIES, page_language
from npsloop.responses.schemas import ContactIn, ResponseCreate
from npsloop.surveys.models import Survey, SurveyStatus
from npsloop.surveys.service import followup_text, localized_text
from npsloop.targeting.decide import decide

CHANNEL = "widget"
# Waiting to be shown; an invitation shown a moment ago is shown again on the next page of
# the same visit (the visitor navigated before answering), but not after that.
PENDING_STATUSES = ("scheduled", "sent", "delivered")
REOPEN_STATUSES = ("opened", "started")
REOPEN_WITHIN = timedelta(minutes=30)
IDENTITY_FIELDS = ("email", "phone", "name", "language", "lifecycle_stage")


class WidgetError(ValueError):
    def __init__(self, field: str, message: str, status_code: int = 422) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.status_code = status_code


@dataclass
class Offer:
    """What a track/identify call answers: an invitation to show now (or after a delay), or
    the rules that refused one."""

    invitation: Invitation | None = None
    delay_seconds: int = 0
    refusals: list[str] = field(default_factory=list)


def identify(session: Session, *, org_id: str, user_id: str, attributes: dict[str, Any]
             ) -> Contact:
    """Upserts the contact: email/phone/name/language/lifecycle_stage set its fields, other
    keys merge into its typed attributes (text coerced like a form, "42" -> 42)."""
    data: dict[str, Any] = {"external_id": user_id, "attributes": {}}
    for key, value in attributes.items():
        if key in IDENTITY_FIELDS:
            data[key] = value
        else:
            data["attributes"][key] = value
    registry = AttributeRegistry(session, org_id)
    try:
        change = contacts.check_change(registry, data, mode="lenient")
        [(contact, _)] = contacts.apply_changes(session, org_id=org_id, changes=[change],
                                               registry=registry)
    except contacts.ContactError as exc:
        field_name = "user_id" if exc.field == "external_id" else exc.field
        raise WidgetError(field_name, exc.message) from exc
    session.commit()
    return contact


_inv = Invitation.__table__.c
_surveys = Survey.__table__.c
_contacts = Contact.__table__.c


def _pending_query(contact_id: Any) -> Any:
    """The invitation waiting for the contact (its id): built once, as the widget asks this
    on every page view and building the statement cost more than running it."""
    return (
        select(_inv.id)
        .select_from(Invitation.__table__.join(Survey.__table__, _surveys.id == _inv.survey_id))
        .where(_inv.org_id == bindparam("org_id"), _inv.contact_id == contact_id,
               _inv.channel == CHANNEL, _surveys.status == SurveyStatus.live.value,
               or_(_inv.expires_at.is_(None), _inv.expires_at > bindparam("now")),
               or_(_inv.status.in_(PENDING_STATUSES),
                   (_inv.status.in_(REOPEN_STATUSES))
                   & (_inv.opened_at > bindparam("reopen_since"))))
        .order_by(_inv.created_at.desc(), _inv.id)
        .limit(1)
    )


_PENDING = _pending_query(bindparam("contact_id"))
# The visitor's contact id and its waiting invitation in one round trip (track).
_VISITOR = select(_contacts.id, _pending_query(_contacts.id).scalar_subquery()).where(
    _contacts.org_id == bindparam("org_id"), _contacts.external_id == bindparam("external_id"))


def pending_invitation(session: Session, *, org_id: str, contact_id: str,
                       now: datetime | None = None) -> Invitation | None:
    now = now or utcnow()
    session.flush()  # the statement goes to the connection, past the autoflush
    found = session.connection().execute(_PENDING, {
        "org_id": org_id, "contact_id": contact_id, "now": now,
        "reopen_since": now - REOPEN_WITHIN}).scalar()
    return session.get(Invitation, found) if found is not None else None


def _delay(invitation: Invitation, now: datetime) -> int:
    if invitation.send_at is None or invitation.send_at <= now:
        return 0
    return int((invitation.send_at - now).total_seconds()) + 1


def offer_for(session: Session, *, org_id: str, contact: Contact, event: str | None,
              properties: dict[str, Any] | None, language: str) -> Offer:
    """A pending invitation first; else, for an event, a new decision. Without an event
    (identify on page load) nothing is decided: triggers fire on events, and logging a
    "no trigger" refusal for every page view would drown the decision log."""
    return _offer(session, org_id=org_id, contact_id=contact.id,
                  external_id=contact.external_id, event=event, properties=properties,
                  language=language)


def _offer(session: Session, *, org_id: str, contact_id: str, external_id: str,
           event: str | None, properties: dict[str, Any] | None, language: str,
           now: datetime | None = None, pending_id: str | None = None,
           pending_read: bool = False) -> Offer:
    """`offer_for`; `pending_read`: the caller already looked for a waiting invitation
    (`pending_id`, None when there is none) at `now`."""
    now = now or utcnow()
    pending = pending_invitation(session, org_id=org_id, contact_id=contact_id, now=now) \
        if not pending_read else (session.get(Invitation, pending_id) if pending_id else None)
    if pending is not None:
        return Offer(pending, _delay(pending, now))
    if event is None:
        return Offer()
    decision = decide(session, org_id=org_id, contact_external_id=external_id,
                      event=event, properties=properties, channel=CHANNEL, now=now,
                      language=language)
    session.commit()
    if decision.eligible and decision.invitation is not None:
        return Offer(decision.invitation, _delay(decision.invitation, now))
    return Offer(refusals=[r.rule for r in decision.refusals])


def track(session: Session, *, org_id: str, user_id: str, event: str,
          properties: dict[str, Any], event_id: str | None, language: str) -> Offer:
    """Records the event (as the contacts events service does for the API, so segments and
    triggers see it; a resent event_id is stored once), then asks for an invitation."""
    try:
        record_events(session, org_id=org_id, source=CHANNEL, error_prefix="", items=[
            EventInput(contact_external_id=user_id, name=event, properties=properties,
                       event_id=event_id)])
    except contacts.ContactError as exc:
        field_name = {"contact_external_id": "user_id", "name": "event"}.get(exc.field, exc.field)
        raise WidgetError(field_name, exc.message) from exc
    session.commit()
    now = utcnow()
    visitor = session.connection().execute(_VISITOR, {
        "org_id": org_id, "external_id": user_id, "now": now,
        "reopen_since": now - REOPEN_WITHIN}).first()
    if visitor is None:  # record_events creates unknown contacts; deleted in between
        raise WidgetError("user_id", "unknown visitor", 409)
    return _offer(session, org_id=org_id, contact_id=visitor[0], external_id=user_id,
                  event=event, properties=properties, language=language, now=now,
                  pending_id=visitor[1], pending_read=True)


def load_invitation(session: Session, *, org_id: str, invitation_id: str) -> Invitation:
    invitation = session.scalar(select(Invitation).where(
        Invitation.org_id == org_id, Invitation.id == invitation_id,
        Invitation.channel == CHANNEL))
    if invitation is None:
        raise WidgetError("ticket", "invitation not found", 404)
    return invitation


def _survey(session: Session, invitation: Invitation) -> Survey:
    survey = session.scalar(select(Survey).where(Survey.id == invitation.survey_id,
                                                 Survey.org_id == invitation.org_id))
    if survey is None or survey.status != SurveyStatus.live.value:
        raise WidgetError("ticket", "the survey is no longer open", 410)
    return survey


def survey_view(session: Session, invitation: Invitation, requested_lang: str | None,
                accept_language: str | None) -> dict[str, Any]:
    """The popup's content in one language: the survey's own wording and every label."""
    survey = _survey(session, invitation)
    lang = page_language(survey, requested_lang, accept_language)
    question = next((q for q in survey.questions if q.kind == "nps"), None)
    followup = next((q for q in survey.questions if q.kind == "open_followup"), None)
    texts = {name: translate(f"widget.popup.{name}", lang) for name in (
        "not_likely", "very_likely", "placeholder", "submit", "close", "thanks",
        "sending", "error", "required", "score_label", "referral_copy", "referral_copied")}
    texts["thanks_by_category"] = {c: translate(f"widget.popup.thanks_{c}", lang)
                                   for c in CATEGORIES}
    return {
        "token": survey.public_token,
        "language": lang,
        "question": localized_text(question, lang) if question else translate(
            "widget.popup.question", lang),
        # Only the categories the survey's skip logic shows the follow-up to.
        "followup": ({c: followup_text(followup, lang, c) for c in CATEGORIES
                      if not followup.show_if_categories or c in followup.show_if_categories}
                     if followup else {}),
        "followup_required": bool(followup and followup.required),
        "texts": texts,
    }


def mark(session: Session, *, invitation: Invitation, event: str) -> Invitation:
    """Shown -> "opened", closed -> "dismissed" (counts for fatigue). Repeats are harmless:
    mark_invitation only moves timestamps forward. Nothing moves after an answer."""
    if invitation.status == "completed":
        return invitation
    marked = distribution.mark_invitation(session, org_id=invitation.org_id,
                                          invitation_id=invitation.id, event=event)
    session.commit()
    return marked


@dataclass
class AnswerIn:
    score: int
    comment: str = ""
    language: str | None = None
    complete: bool = True


def answer(session: Session, *, invitation: Invitation, data: AnswerIn) -> Response:
    """Creates (or completes) the invitation's one response, channel "widget". The
    idempotency key is the invitation, so a retried or doubled submit never counts twice."""
    survey = _survey(session, invitation)
    if invitation.status == "dismissed":
        raise WidgetError("ticket", "this invitation was dismissed", 409)
    contact = session.get(Contact, invitation.contact_id) if invitation.contact_id else None
    language = page_language(survey, data.language, None)
    create = ResponseCreate(
        score=data.score, comment=data.comment, language=language, channel=CHANNEL,
        contact=ContactIn(external_id=contact.external_id) if contact else None,
        idempotency_key=f"widget:{invitation.id}",
        status="complete" if data.complete else "partial")
    try:
        result = responses.ingest(session, survey=survey, data=create, channel=CHANNEL)
    except responses.IngestError as exc:
        raise WidgetError(exc.field, exc.message) from exc
    saved = result.response
    distribution.mark_invitation(
        session, org_id=invitation.org_id, invitation_id=invitation.id,
        event="completed" if saved.status == "complete" else "started",
        response_id=saved.id)
    session.commit()
    return saved


