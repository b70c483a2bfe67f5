"""FastAPI dependencies every domain shares: the DB session and the request language."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from npsloop.core.config import Settings
from npsloop.core.i18n import negotiate, normalize_language


def get_db(request: Request) -> Iterator[Session]:
    with request.app.state.session_factory() as session:
        yield session


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
