"""FastAPI dependencies every domain shares: the DB session and the request language."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from npsloop.core.config import Settings
from npsloop.core.i18n import negotiate, normalize_language


async def get_db(request: Request) -> AsyncIterator[Session]:
    """A sync generator here would cost two thread-pool hops per request (open and close).
    Opening a session does no I/O (it connects on its first query), and closing one whose
    transaction has ended only returns it to the pool, so both stay on the event loop; a
    session still in a transaction (an error after a query) needs a ROLLBACK round trip,
    which goes to the thread pool, shielded so a cancelled request cannot leak it."""
    session = request.app.state.session_factory()
    try:
        yield session
    finally:
        if session.in_transaction():
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(session.close)
        else:
            session.close()


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def request_language(request: Request) -> str:
    """?lang= wins, then the `lang` cookie, then Accept-Language, then the site default."""
    settings: Settings = request.app.state.settings
    return (
        normalize_language(request.query_params.get("lang"))
        or normalize_language(request.cookies.get("lang"))
        or negotiate(request.headers.get("accept-language"), settings.default_language)
    )


SessionDep = Annotated[Session, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
LangDep = Annotated[str, Depends(request_language)]
