"""Shared set-up for referral tests: promoters answering through the API or the public page."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fastapi.testclient import TestClient


def token_of(survey: dict) -> str:
    return survey["public_url"].rsplit("/s/", 1)[1]


def api_response(client: TestClient, org, survey: dict, score: int, *,
                 external_id: str | None = None, email: str | None = None,
                 stage: str | None = None, at: datetime | None = None) -> dict:
    body: dict = {"score": score}
    if external_id:
        contact: dict = {"external_id": external_id}
        if email:
            contact["email"] = email
        if stage:
            contact["lifecycle_stage"] = stage
        body["contact"] = contact
    if at is not None:
        body["submitted_at"] = at.astimezone(UTC).isoformat()
    response = client.post(f"/api/v1/surveys/{survey['id']}/responses", json=body,
                           headers=org.headers)
    assert response.status_code == 201, response.text
    return response.json()


def thanks_page(client: TestClient, survey: dict, response_id: str, lang: str = "en"):
    return client.get(f"/s/{token_of(survey)}/thanks?lang={lang}&r={response_id}")


def code_on(page_text: str) -> str:
    found = re.search(r'data-testid="referral-code">([A-Z0-9]{4}-[A-Z0-9]{4})<', page_text)
    assert found, "no referral code on the page"
    return found.group(1).replace("-", "")


def promoter_code(client: TestClient, org, survey: dict, **contact) -> str:
    """A promoter answers (through the API) and opens the thank-you page: their code."""
    saved = api_response(client, org, survey, 10, **contact)
    page = thanks_page(client, survey, saved["id"])
    assert page.status_code == 200
    return code_on(page.text)
