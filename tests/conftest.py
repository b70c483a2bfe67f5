"""Shared fixtures: every DB test runs on SQLite and, when a server answers, on PostgreSQL.

Each backend is migrated once per run with Alembic (so migrations from empty are exercised
on both); each test then runs inside a transaction that is rolled back, with the app's own
commits turned into SAVEPOINT releases.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from npsloop.accounts.models import Role
from npsloop.accounts.service import create_api_key, create_organization, create_user
from npsloop.app import create_app
from npsloop.core.config import Settings
from npsloop.core.db import make_engine
from npsloop.core.migrate import upgrade

# Comment sentiment uses the n-gram model alone in tests (no e5 embedding at ~12 comments/s
# inside every test that posts a comment); tests/textmining/test_cascade.py passes margins
# explicitly.
os.environ.setdefault("NPSLOOP_SENTIMENT_E5_MARGIN", "0")

PG_ADMIN_URL = os.environ.get(
    "NPSLOOP_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRE_PG = os.environ.get("CI", "").lower() == "true" or os.environ.get(
    "NPSLOOP_REQUIRE_POSTGRES"
) == "1"


def _pg_available() -> bool:
    try:
        engine = make_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001 - any failure means "no server"
        return False


PG_AVAILABLE = _pg_available()
if REQUIRE_PG and not PG_AVAILABLE:
    raise RuntimeError(f"CI requires PostgreSQL but {PG_ADMIN_URL} is unreachable")
BACKENDS = ["sqlite", "postgresql"] if PG_AVAILABLE else ["sqlite"]


@dataclass
class Backend:
    name: str
    url: str
    engine: Engine


def _pg_database(tmp_name: str) -> str:
    base = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with base.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{tmp_name}"'))
        conn.execute(text(f'CREATE DATABASE "{tmp_name}"'))
    base.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{tmp_name}"


def _drop_pg_database(tmp_name: str) -> None:
    base = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with base.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{tmp_name}" WITH (FORCE)'))
    base.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("db") / "test.db"
        url = f"sqlite:///{path}"
        upgrade(url)
        engine = make_engine(url)
        yield Backend("sqlite", url, engine)
        engine.dispose()
        return
    name = f"npsloop_test_{uuid.uuid4().hex[:10]}"
    url = _pg_database(name)
    upgrade(url)
    engine = make_engine(url)
    yield Backend("postgresql", url, engine)
    engine.dispose()
    _drop_pg_database(name)


@pytest.fixture
def db_factory(backend: Backend) -> Iterator[sessionmaker[Session]]:
    """A session factory bound to one connection whose outer transaction is rolled back."""
    connection = backend.engine.connect()
    outer = connection.begin()
    factory = sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    yield factory
    outer.rollback()
    connection.close()


@pytest.fixture
def db(db_factory: sessionmaker[Session]) -> Iterator[Session]:
    with db_factory() as session:
        yield session


@pytest.fixture
def settings(backend: Backend) -> Settings:
    return Settings(database_url=backend.url, env="test", inprocess_worker=False)


@pytest.fixture
def app(settings: Settings, db_factory: sessionmaker[Session]):
    return create_app(settings, db_factory, start_worker=False)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@dataclass
class OrgCtx:
    org_id: str
    api_key: str
    owner_email: str
    password: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


@pytest.fixture
def make_org(db: Session):
    """Creates an organisation with an owner and an admin API key."""

    def factory(name: str | None = None) -> OrgCtx:
        suffix = uuid.uuid4().hex[:8]
        email = f"owner-{suffix}@example.test"
        org, _, key = create_organization(
            db, name=name or f"Org {suffix}", admin_email=email, admin_password="password-123"
        )
        db.commit()
        return OrgCtx(org.id, key, email, "password-123")

    return factory


@pytest.fixture
def org(make_org) -> OrgCtx:
    return make_org("Acme")


@pytest.fixture
def role_key(db: Session):
    """An API key of a given role in a given organisation."""

    def factory(org_id: str, role: Role | str) -> dict[str, str]:
        _, plain = create_api_key(db, org_id=org_id, name=f"{role}-key", role=role)
        db.commit()
        return {"Authorization": f"Bearer {plain}"}

    return factory


@pytest.fixture
def make_user(db: Session):
    def factory(org_id: str, role: Role | str, password: str = "password-123") -> str:
        email = f"{role}-{uuid.uuid4().hex[:6]}@example.test"
        create_user(db, org_id=org_id, email=email, password=password, role=role)
        db.commit()
        return email

    return factory


@pytest.fixture
def survey(client: TestClient, org: OrgCtx) -> dict:
    body = {"name": "Relationship Q1", "status": "live", "drivers": ["price", "delivery"]}
    response = client.post("/api/v1/surveys", json=body, headers=org.headers)
    assert response.status_code == 201, response.text
    return response.json()


def pytest_report_header(config: pytest.Config) -> str:
    return f"npsloop DB backends: {', '.join(BACKENDS)}"


