"""Fixtures of the response tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session

from npsloop.accounts.models import Organization
from npsloop.accounts.service import create_organization
from npsloop.core.outbox import OutboxEvent
from tests.conftest import Backend, OrgCtx


@pytest.fixture
def committed_org(backend: Backend) -> Iterator[OrgCtx]:
    """An organisation committed for real (tests on the pool, not one rolled-back
    transaction); removed afterwards with everything it owns."""
    suffix = uuid.uuid4().hex[:8]
    with Session(backend.engine) as session:
        org, _, key = create_organization(session, name=f"Concurrent {suffix}",
                                          admin_email=f"c-{suffix}@example.test",
                                          admin_password="password-123")
        session.commit()
        ctx = OrgCtx(org.id, key, f"c-{suffix}@example.test", "password-123")
    yield ctx
    with Session(backend.engine) as session:
        session.execute(delete(OutboxEvent).where(OutboxEvent.org_id == ctx.org_id))
        session.execute(delete(Organization).where(Organization.id == ctx.org_id))
        session.commit()
