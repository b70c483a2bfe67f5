"""Fixtures for the security tests: two organisations with a world of objects each, users of
every role signed in through the real login form."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from npsloop.accounts.models import Role, User, WebSession
from npsloop.core.db import Base
from npsloop.registry import import_models
from tests.security.world import World

# Touched on every authenticated call (at most once a minute): not a change of the data.
VOLATILE_COLUMNS = {"last_used_at"}


@dataclass
class Session_:
    cookies: dict[str, str]
    csrf: str


def login_session(app, db: Session, email: str, password: str = "password-123") -> Session_:
    """Signs in through POST /login and returns the cookie and CSRF token of that session."""
    with TestClient(app) as fresh:
        response = fresh.post("/login", data={"email": email, "password": password},
                              follow_redirects=False)
        assert response.status_code == 303, response.text
        cookies = dict(fresh.cookies)
    user_id = db.scalar(select(User.id).where(User.email == email))
    csrf = db.scalar(select(WebSession.csrf_token).where(WebSession.user_id == user_id)
                     .order_by(WebSession.created_at.desc()))
    return Session_(cookies, csrf)


@pytest.fixture
def world_of(client, db):
    def factory(org) -> World:
        return World(client, db, org.headers, f"SECRET{uuid.uuid4().hex[:8]}")

    return factory


def org_snapshot(db: Session, org_id: str) -> dict[str, str]:
    """A digest of every row the organisation owns, table by table."""
    import_models()
    db.expire_all()
    digests: dict[str, str] = {}
    for table in Base.metadata.sorted_tables:
        if "org_id" not in table.c:
            continue
        columns = [c for c in table.c if c.name not in VOLATILE_COLUMNS]
        rows = db.execute(select(*columns).where(table.c.org_id == org_id)).all()
        text = json.dumps(sorted(json.dumps([str(v) for v in row]) for row in rows))
        digests[table.name] = hashlib.sha256(text.encode()).hexdigest()
    return digests


ROLES = [r.value for r in Role]
