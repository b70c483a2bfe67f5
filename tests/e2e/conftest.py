"""Browser tests: a real uvicorn server on 127.0.0.1 in a background thread, against a
temporary SQLite file migrated with Alembic, driven by headless Chromium through Playwright.
The browser is the system's /usr/bin/chromium (CI installs it); nothing is downloaded."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from npsloop.accounts.service import create_organization
from npsloop.app import create_app
from npsloop.core.config import Settings
from npsloop.core.db import make_engine, make_session_factory
from npsloop.core.migrate import upgrade
from npsloop.responses.models import Response
from npsloop.surveys.schemas import SurveyCreate
from npsloop.surveys.service import create_survey

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    base_url: str
    factory: sessionmaker[Session]
    org_id: str

    def responses(self, survey_id: str) -> list[Response]:
        with self.factory() as session:
            rows = session.scalars(select(Response).where(Response.survey_id == survey_id))
            return list(rows)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    import uvicorn

    url = f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'e2e.db'}"
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory() as session:
        org, _, _ = create_organization(
            session, name="Acme 优选", admin_email=f"e2e-{uuid.uuid4().hex[:6]}@example.test",
            admin_password="password-123",
        )
        session.commit()
        org_id = org.id
    settings = Settings(database_url=url, env="test", inprocess_worker=False)
    app = create_app(settings, factory, start_worker=False)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="e2e-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start on 127.0.0.1:{port}")
        time.sleep(0.05)
    yield LiveServer(f"http://127.0.0.1:{port}", factory, org_id)
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


@pytest.fixture
def make_live_survey(live_server: LiveServer) -> Callable[..., tuple[str, str]]:
    """A new live survey (drivers price, delivery) for each call: (survey_id, public_token)."""

    def factory(**fields: object) -> tuple[str, str]:
        data = SurveyCreate.model_validate(
            {"name": "E2E", "status": "live", "drivers": ["price", "delivery"], **fields}
        )
        with live_server.factory() as session:
            survey = create_survey(session, org_id=live_server.org_id, data=data)
            session.commit()
            return survey.id, survey.public_token

    return factory


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package to run e2e tests")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=20_000
        )
        yield launched
        launched.close()
