"""Helpers for ticket tests: responses through the real API and outbox, teams, users."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from npsloop.accounts.models import User
from npsloop.core import outbox
from npsloop.registry import import_handlers
from tests.notify.conftest import live  # noqa: F401 - the real-engine fixture, reused

import_handlers()


def post_response(client, org, survey_id: str, score: int, comment: str = "",
                  **extra: Any) -> dict:
    body = {"score": score, "comment": comment, **extra}
    r = client.post(f"/api/v1/surveys/{survey_id}/responses", json=body, headers=org.headers)
    assert r.status_code in (200, 201), r.text
    return r.json()


def drain(db_factory) -> None:
    """Runs every due outbox event (what the worker does)."""
    while outbox.run_once(db_factory):
        pass


def user_id(db: Session, email: str) -> str:
    return db.scalar(select(User.id).where(User.email == email))


@pytest.fixture
def agents(db, org, make_user) -> list[str]:
    """Three agents of the org (ids), in creation order."""
    return [user_id(db, make_user(org.org_id, "agent")) for _ in range(3)]


def make_team(client, org, key: str, member_ids: list[str] | None = None, **extra) -> dict:
    body = {"key": key, "name": key.title(), "member_ids": member_ids or [], **extra}
    r = client.post("/api/v1/teams", json=body, headers=org.headers)
    assert r.status_code == 201, r.text
    return r.json()


def make_rule(client, org, conditions: list[dict], actions: dict, **extra) -> dict:
    body = {"name": extra.pop("name", "rule"), "conditions": conditions, "actions": actions,
            **extra}
    r = client.post("/api/v1/rules", json=body, headers=org.headers)
    assert r.status_code == 201, r.text
    return r.json()
