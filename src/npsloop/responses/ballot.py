"""Ballot-stuffing guards for open survey links (/s/{token}).

- One response per browser and survey: the survey page gives the browser a random ballot
  cookie (scoped to that survey's path); every submit carrying it uses an idempotency key
  derived from it, so a second ballot from the same browser returns the first one unchanged
  (200, `already_answered`), never a second row.
- A cap on new responses per survey and address per hour, and request rate limits per
  address and per survey link (accounts/throttle.py, counted in the database).
All limits come from Settings (NPSLOOP_SURVEY_*); 0 switches one off.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from npsloop.accounts import throttle
from npsloop.core.config import Settings
from npsloop.core.security import new_token, sign
from npsloop.responses.models import Response as SurveyResponse
from npsloop.surveys.models import Survey

BALLOT_COOKIE = "npsloop_ballot"
ONE_YEAR = 3600 * 24 * 365


@dataclass(frozen=True)
class BallotCheck:
    already_answered: bool = False
    limited: throttle.Limited | None = None


def give_cookie(request: Request, response: Response, settings: Settings, token: str,
                embedded: bool = False) -> None:
    """Called by the survey page: a browser without a ballot for this survey gets one.
    `embedded`: the organisation lets other sites frame the page; a Lax cookie would not be
    sent from inside their iframe, so over HTTPS it is SameSite=None (browsers take None
    only with Secure; over plain HTTP the per-address caps still apply)."""
    if request.cookies.get(BALLOT_COOKIE):
        return
    secure = settings.base_url.startswith("https")
    response.set_cookie(BALLOT_COOKIE, new_token(18), max_age=ONE_YEAR, path=f"/s/{token}",
                        httponly=True, samesite="none" if embedded and secure else "lax",
                        secure=secure)


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def limit_requests(request: Request, db: Session, token: str) -> None:
    """429 when the address, or the survey link as a whole, posts too fast."""
    settings = _settings(request)
    throttle.enforce(request, db, "survey-submit",
                     per_address=throttle.per_minute(settings.survey_submits_per_minute),
                     per_key=throttle.per_minute(settings.survey_token_submits_per_minute),
                     key=token)


def check(request: Request, db: Session, survey: Survey, raw: object) -> BallotCheck:
    """Pins the submit to the browser's ballot (rewriting its idempotency key) and applies the
    per-address cap to new responses. Call before ingest."""
    settings = _settings(request)
    if not isinstance(raw, dict):
        return BallotCheck()  # ingest names the error
    cookie = request.cookies.get(BALLOT_COOKIE)
    if cookie and settings.survey_one_ballot_per_browser:
        raw["idempotency_key"] = "ballot-" + sign(settings.secret_key,
                                                  f"{survey.id}:{cookie}")[:40]
    key = raw.get("idempotency_key")
    existing = None
    if isinstance(key, str) and key:
        existing = db.scalar(select(SurveyResponse.status).where(
            SurveyResponse.org_id == survey.org_id, SurveyResponse.survey_id == survey.id,
            SurveyResponse.idempotency_key == key))
    if existing is not None:
        # Completing one's own partial answer, or re-sending it: not a new ballot.
        return BallotCheck(already_answered=existing == "complete")
    if settings.survey_ballots_per_hour <= 0:
        return BallotCheck()
    limited = throttle.hit(db, "survey-ballot", f"{survey.id}|{throttle.client_address(request)}",
                           [throttle.RateLimit(settings.survey_ballots_per_hour, 3600.0)])
    return BallotCheck(limited=limited)
