"""Fault tests run the real app on a database of their own (a file or a fresh PostgreSQL
database), since they break it on purpose."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, text

from npsloop.accounts.service import create_organization
from npsloop.app import create_app
from npsloop.core.config import Settings
from npsloop.core.db import make_engine, make_session_factory
from npsloop.core.migrate import upgrade
from npsloop.surveys.schemas import SurveyCreate
from npsloop.surveys.service import create_survey
from tests.conftest import PG_ADMIN_URL, PG_AVAILABLE, _drop_pg_database, _pg_database


@dataclass
class Stack:
    url: str
    engine: Engine
    client: TestClient
    headers: dict[str, str]
    survey_id: str

    def post(self, key: str, comment: str = "ok", score: int = 8):
        return self.client.post(f"/api/v1/surveys/{self.survey_id}/responses", json={
            "score": score, "comment": comment, "idempotency_key": key}, headers=self.headers)


def build_stack(url: str, on_connect: Callable[[object], None] | None = None) -> Stack:
    upgrade(url)
    engine = make_engine(url)
    if on_connect is not None:
        event.listen(engine, "connect", lambda conn, _record: on_connect(conn))
    factory = make_session_factory(engine)
    with factory() as session:
        org, _, key = create_organization(session, name="Faults", admin_email=(
            f"f-{uuid.uuid4().hex[:6]}@example.test"), admin_password="password-123")
        survey = create_survey(session, org_id=org.id, data=SurveyCreate(
            name="Faults", status="live"))
        session.commit()
        survey_id = survey.id
    app = create_app(Settings(database_url=url, env="test", inprocess_worker=False), factory,
                     start_worker=False)
    client = TestClient(app, raise_server_exceptions=False)
    return Stack(url, engine, client, {"Authorization": f"Bearer {key}"}, survey_id)


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'faults.db'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    if not PG_AVAILABLE:
        pytest.skip("PostgreSQL not reachable")
    name = f"npsloop_faults_{uuid.uuid4().hex[:8]}"
    url = _pg_database(name)
    yield url
    _drop_pg_database(name)


def pg_admin_execute(sql: str) -> None:
    engine = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(sql))
    engine.dispose()
