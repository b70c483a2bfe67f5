"""Site keys: create, list, change allowed origins, revoke, resolve; and the signed tickets
that tie a shown invitation to the site key it was shown through."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from npsloop.core.db import utcnow
from npsloop.core.security import constant_time_equals, new_token, sign
from npsloop.widget.models import SiteKey

SITE_KEY_PREFIX = "npw_"
MAX_ORIGINS = 20
TICKET_SIG_CHARS = 32


class SiteKeyError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def normalize_origin(value: str) -> str:
    """'https://Shop.example.com/' -> 'https://shop.example.com'; anything that is not a bare
    http(s) origin (a path, a query, a wildcard) is refused: origins are compared exactly."""
    text = value.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SiteKeyError("allowed_origins", f"'{text}' is not an origin like https://shop.example.com")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise SiteKeyError("allowed_origins",
                           f"'{text}' must be only scheme, host and port (no path)")
    if "*" in text:
        raise SiteKeyError("allowed_origins", f"'{text}': wildcards are not allowed")
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname.lower()}{port}"


def normalize_origins(values: list[str]) -> list[str]:
    found: list[str] = []
    for value in values:
        if not value.strip():
            continue
        origin = normalize_origin(value)
        if origin not in found:
            found.append(origin)
    if len(found) > MAX_ORIGINS:
        raise SiteKeyError("allowed_origins", f"at most {MAX_ORIGINS} origins per key")
    return found


def create_site_key(session: Session, *, org_id: str, name: str, allowed_origins: list[str],
                    created_by: str = "", verify_identity: bool = False) -> SiteKey:
    if not name.strip():
        raise SiteKeyError("name", "must not be empty")
    key = SiteKey(org_id=org_id, name=name.strip()[:200], key=SITE_KEY_PREFIX + new_token(24),
                  allowed_origins=normalize_origins(allowed_origins), created_by=created_by,
                  identity_secret=new_token(32) if verify_identity else None)
    session.add(key)
    session.flush()
    return key


def list_site_keys(session: Session, *, org_id: str) -> list[SiteKey]:
    """Active keys first, newest first."""
    return list(session.scalars(select(SiteKey).where(SiteKey.org_id == org_id).order_by(
        SiteKey.revoked_at.is_not(None), SiteKey.created_at.desc(), SiteKey.id)))


def get_site_key(session: Session, *, org_id: str, key_id: str) -> SiteKey | None:
    return session.scalar(select(SiteKey).where(SiteKey.org_id == org_id, SiteKey.id == key_id))


def update_site_key(session: Session, *, site_key: SiteKey, name: str | None = None,
                    allowed_origins: list[str] | None = None,
                    verify_identity: bool | None = None) -> SiteKey:
    if name is not None:
        if not name.strip():
            raise SiteKeyError("name", "must not be empty")
        site_key.name = name.strip()[:200]
    if allowed_origins is not None:
        site_key.allowed_origins = normalize_origins(allowed_origins)
    if verify_identity is True and site_key.identity_secret is None:
        site_key.identity_secret = new_token(32)
    elif verify_identity is False:
        site_key.identity_secret = None
    session.flush()
    return site_key


def revoke_site_key(session: Session, *, site_key: SiteKey) -> SiteKey:
    if site_key.revoked_at is None:
        site_key.revoked_at = utcnow()
        session.flush()
    return site_key


def resolve(session: Session, plain: str) -> SiteKey | None:
    """The active site key with this value, or None (unknown, malformed or revoked)."""
    if not plain.startswith(SITE_KEY_PREFIX) or len(plain) > 64:
        return None
    found = session.scalar(select(SiteKey).where(SiteKey.key == plain))
    if found is None or found.revoked_at is not None:
        return None
    now = utcnow()
    # Touched at most once a minute so the widget's calls don't each turn into a write.
    if found.last_used_at is None or now - found.last_used_at > timedelta(minutes=1):
        found.last_used_at = now
        session.commit()
    return found


def origin_allowed(site_key: SiteKey, origin: str | None) -> bool:
    """A browser always sends Origin on these cross-site calls; a server-side caller (no
    Origin) is let through since the key is public anyway and CORS only guards browsers."""
    if origin is None:
        return True
    try:
        return normalize_origin(origin) in (site_key.allowed_origins or [])
    except SiteKeyError:
        return False


def user_hash(secret: str, user_id: str) -> str:
    """What the customer's server computes for identity verification (hex HMAC-SHA256)."""
    return sign(secret, user_id)


def identity_ok(site_key: SiteKey, user_id: str, supplied: str | None) -> bool:
    if site_key.identity_secret is None:
        return True
    return supplied is not None and constant_time_equals(
        supplied.lower(), user_hash(site_key.identity_secret, user_id))


def ticket_for(secret_key: str, site_key: SiteKey, invitation_id: str) -> str:
    signature = sign(secret_key, f"widget:{site_key.id}:{invitation_id}")[:TICKET_SIG_CHARS]
    return f"{invitation_id}.{signature}"


def invitation_of(secret_key: str, site_key: SiteKey, ticket: str) -> str | None:
    """The invitation id a ticket names, if it was signed for this site key."""
    invitation_id, _, signature = ticket.partition(".")
    if not invitation_id or len(invitation_id) > 64:
        return None
    expected = ticket_for(secret_key, site_key, invitation_id).partition(".")[2]
    return invitation_id if constant_time_equals(signature, expected) else None


def snippet(base_url: str, site_key: SiteKey, lang: str | None = None) -> str:
    """The two tags to paste before </body>: the queue stub (so calls made before the
    script arrives are kept) and the async script, then init."""
    host = base_url.rstrip("/")
    options = f"{{host: '{host}', key: '{site_key.key}'" + (
        f", lang: '{lang}'" if lang else "") + "}"
    return (
        "<script>\n"
        "window.npsloop=window.npsloop||function(){(npsloop.q=npsloop.q||[]).push(arguments)};\n"
        f"npsloop('init', {options});\n"
        "</script>\n"
        f'<script async src="{host}/widget/npsloop.js"></script>'
    )
