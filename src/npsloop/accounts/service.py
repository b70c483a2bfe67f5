"""Account logic: organisations, users, keys, sessions. Plain functions, no HTTP."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from npsloop.accounts.models import ApiKey, AuditLog, Organization, Role, User, WebSession
from npsloop.core.db import utcnow
from npsloop.core.security import hash_password, new_token, token_hash, verify_password

API_KEY_PREFIX = "npl_"

# What each role may do. Routes declare the permission they need; nothing else decides.
PERMISSIONS: dict[str, frozenset[Role]] = {
    "survey:read": frozenset(Role),
    "survey:write": frozenset({Role.owner, Role.admin, Role.analyst}),
    "response:read": frozenset(Role),
    "response:write": frozenset({Role.owner, Role.admin, Role.analyst}),
    "stats:read": frozenset(Role),
    "member:manage": frozenset({Role.owner, Role.admin}),
    "apikey:manage": frozenset({Role.owner, Role.admin}),
    "org:manage": frozenset({Role.owner}),
    "ticket:work": frozenset({Role.owner, Role.admin, Role.agent}),
    "rule:manage": frozenset({Role.owner, Role.admin}),
    # Export or erase a person's data, retention, the audit log.
    "privacy:manage": frozenset({Role.owner, Role.admin}),
}


def role_can(role: str, permission: str) -> bool:
    try:
        return Role(role) in PERMISSIONS[permission]
    except (ValueError, KeyError):
        return False


class AccountError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def create_organization(
    session: Session,
    *,
    name: str,
    admin_email: str,
    admin_password: str,
    timezone: str = "Asia/Shanghai",
    default_language: str = "zh-CN",
) -> tuple[Organization, User, str]:
    """Creates the organisation, its owner and a first admin API key (returned in clear once)."""
    if not name.strip():
        raise AccountError("name", "must not be empty")
    org = Organization(name=name.strip(), timezone=timezone, default_language=default_language)
    session.add(org)
    session.flush()
    user = create_user(
        session, org_id=org.id, email=admin_email, password=admin_password, role=Role.owner
    )
    _, plain_key = create_api_key(session, org_id=org.id, name="default", role=Role.admin)
    audit(session, org_id=org.id, actor=user.email, action="org.create", target=("org", org.id))
    return org, user, plain_key


def create_user(
    session: Session,
    *,
    org_id: str,
    email: str,
    password: str,
    role: Role | str,
    name: str = "",
    language: str | None = None,
) -> User:
    email = email.strip().lower()
    if "@" not in email or len(email) < 3:
        raise AccountError("email", "is not an email address")
    if len(password) < 8:
        raise AccountError("password", "must have at least 8 characters")
    try:
        role = Role(role)
    except ValueError as exc:
        raise AccountError("role", f"must be one of {', '.join(r.value for r in Role)}") from exc
    if session.scalar(select(User.id).where(User.email == email)):
        raise AccountError("email", "is already registered")
    user = User(
        org_id=org_id,
        email=email,
        name=name or email.split("@")[0],
        password_hash=hash_password(password),
        role=role.value,
        language=language,
    )
    session.add(user)
    session.flush()
    return user


def create_api_key(
    session: Session, *, org_id: str, name: str, role: Role | str = Role.admin
) -> tuple[ApiKey, str]:
    plain = API_KEY_PREFIX + new_token(30)
    key = ApiKey(
        org_id=org_id,
        name=name,
        prefix=plain[:10],
        key_hash=token_hash(plain),
        role=Role(role).value,
    )
    session.add(key)
    session.flush()
    return key, plain


def authenticate_api_key(session: Session, plain: str) -> ApiKey | None:
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == token_hash(plain)))
    if key is None or key.revoked_at is not None:
        return None
    now = utcnow()
    # Touch last_used at most once a minute so reads don't turn into writes on every call.
    if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
        key.last_used_at = now
        session.commit()
    return key


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password(new_token())


def login(
    session: Session, *, email: str, password: str, max_age_hours: int
) -> tuple[User, str, WebSession] | None:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        # Same work as a wrong password, so the answer time does not tell which emails exist.
        verify_password(_dummy_hash(), password)
        return None
    if not user.is_active or not verify_password(user.password_hash, password):
        return None
    plain = new_token()
    web_session = WebSession(
        token_hash=token_hash(plain),
        user_id=user.id,
        csrf_token=new_token(24),
        expires_at=utcnow() + timedelta(hours=max_age_hours),
    )
    session.add(web_session)
    audit(session, org_id=user.org_id, actor=user.email, action="user.login")
    session.commit()
    return user, plain, web_session


def resolve_session(session: Session, plain: str) -> tuple[User, WebSession] | None:
    web_session = session.scalar(
        select(WebSession).where(WebSession.token_hash == token_hash(plain))
    )
    if web_session is None or web_session.expires_at < utcnow():
        return None
    user = session.get(User, web_session.user_id)
    if user is None or not user.is_active:
        return None
    return user, web_session


def logout(session: Session, plain: str) -> None:
    web_session = session.scalar(
        select(WebSession).where(WebSession.token_hash == token_hash(plain))
    )
    if web_session is not None:
        session.delete(web_session)
        session.commit()


def audit(
    session: Session,
    *,
    org_id: str,
    actor: str,
    action: str,
    target: tuple[str, str] = ("", ""),
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditLog(
            org_id=org_id,
            actor=actor,
            action=action,
            target_type=target[0],
            target_id=target[1],
            detail=detail or {},
        )
    )


def get_organization(session: Session, org_id: str) -> Organization | None:
    return session.get(Organization, org_id)


def list_users(session: Session, *, org_id: str) -> list[User]:
    return list(session.scalars(select(User).where(User.org_id == org_id).order_by(User.email)))
