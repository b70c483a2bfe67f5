"""An organisation's own settings: its name, time zone, default language and the sites that may
show its public survey pages in an iframe.

The time zone decides where every report's day, week and month begins, so changing it is
audited with the old and new value. Nothing else is needed here: the daily statistics rollup
records the zone it was keyed in, reads raw rows while that differs from the organisation's,
and its worker job re-keys it (analytics.rollup).

Embedding origins end up inside a Content-Security-Policy header (`frame-ancestors`), so
they are checked strictly: scheme, host and optional port, nothing else (a path, a space
or a semicolon could smuggle another directive).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from sqlalchemy.orm import Session

from npsloop.accounts.models import Organization
from npsloop.accounts.service import audit
from npsloop.core.errors import InputError

LANGUAGES = ("zh-CN", "en")
MAX_EMBED_ORIGINS = 20
# https://shop.example.com, http://localhost:3000, https://*.example.com (any subdomain).
ORIGIN = re.compile(r"^https?://(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*"
                    r"[a-z0-9])?)*(:\d{1,5})?$")
FIELDS = ("name", "timezone", "default_language", "embed_origins")


class OrgSettingsError(InputError):
    """A setting that cannot be saved; `field` names it."""


@dataclass(frozen=True)
class OrgSettings:
    name: str
    timezone: str
    default_language: str
    embed_origins: list[str]


def read(org: Organization) -> OrgSettings:
    return OrgSettings(org.name, org.timezone, org.default_language,
                       list(org.embed_origins or []))


def _valid_port(origin: str) -> bool:
    try:
        urlsplit(origin).port  # noqa: B018 - raises ValueError above 65535
    except ValueError:
        return False
    return True


def clean_origins(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise OrgSettingsError("embed_origins", "must be a list of origins")
    if len(value) > MAX_EMBED_ORIGINS:
        raise OrgSettingsError("embed_origins", f"at most {MAX_EMBED_ORIGINS} origins")
    origins: list[str] = []
    for index, item in enumerate(value):
        origin = item.strip().lower().rstrip("/") if isinstance(item, str) else ""
        if not ORIGIN.match(origin) or not _valid_port(origin):
            raise OrgSettingsError(
                f"embed_origins.{index}",
                "must be an origin: http(s)://host[:port], optionally *.host, no path")
        if origin not in origins:
            origins.append(origin)
    return origins


def clean(changes: dict[str, Any]) -> dict[str, Any]:
    """The changes, checked and normalised; raises OrgSettingsError naming the field."""
    cleaned: dict[str, Any] = {}
    for field, value in changes.items():
        if field not in FIELDS:
            raise OrgSettingsError(field, "unknown setting")
        if field == "name":
            name = value.strip() if isinstance(value, str) else ""
            if not 1 <= len(name) <= 200:
                raise OrgSettingsError("name", "must be 1 to 200 characters")
            cleaned[field] = name
        elif field == "timezone":
            if not isinstance(value, str) or value not in available_timezones():
                raise OrgSettingsError("timezone", "must be an IANA time zone such as "
                                       "Asia/Shanghai")
            cleaned[field] = value
        elif field == "default_language":
            if value not in LANGUAGES:
                raise OrgSettingsError("default_language", "must be one of zh-CN, en")
            cleaned[field] = value
        else:
            cleaned[field] = clean_origins(value)
    return cleaned


def update(session: Session, org: Organization, changes: dict[str, Any], *,
           actor: str) -> OrgSettings:
    """Applies the changed settings, audits them and commits."""
    cleaned = clean(changes)
    before = read(org)
    changed = {field: value for field, value in cleaned.items()
               if getattr(before, field) != value}
    for field, value in changed.items():
        setattr(org, field, value)
    if changed:
        audit(session, org_id=org.id, actor=actor, action="org.settings.update",
              target=("org", org.id),
              detail={field: {"from": getattr(before, field), "to": value}
                      for field, value in changed.items()})
    session.commit()
    return read(org)
