"""Small helpers the contact pages share."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from npsloop.accounts.service import get_organization
from npsloop.core.i18n import catalogs


def local_time(db: Session, org_id: str) -> Callable[[datetime], datetime]:
    """Converts stored UTC times to the organisation's time zone for display."""
    org = get_organization(db, org_id)
    zone = ZoneInfo(org.timezone if org and org.timezone else "UTC")
    return lambda moment: moment.astimezone(zone)


def script_strings(lang: str, prefixes: tuple[str, ...]) -> dict[str, str]:
    """The translations a page script needs (it builds parts of the page itself)."""
    table = catalogs().get(lang) or catalogs()["en"]
    return {k: v for k, v in table.items() if k.startswith(prefixes)}
