"""Encryption at rest for channel and webhook secrets.

The Fernet key is derived (HKDF-SHA256) from `NPSLOOP_SECRET_KEY`, so there is no extra key
to store. Key rotation: set the new `NPSLOOP_SECRET_KEY`, put the previous one(s) in
`NPSLOOP_OLD_SECRET_KEYS` (comma-separated), restart, then run
`npsloop notify rotate-secrets` to re-encrypt every stored secret with the new key; after
that the old keys may be dropped. Decryption tries the current key first, then the old ones.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from npsloop.core.config import Settings

_INFO = b"npsloop notify secrets v1"


class SecretDecryptError(RuntimeError):
    """Stored secrets cannot be read with the current or old keys (a key was lost)."""


def _fernet(secret_key: str) -> Fernet:
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(raw))


def old_secret_keys(settings: Settings) -> list[str]:
    """`old_secret_keys` from settings when the field exists, else the environment."""
    value = getattr(settings, "old_secret_keys", None)
    if value is None:
        value = os.environ.get("NPSLOOP_OLD_SECRET_KEYS", "")
    if isinstance(value, list | tuple):
        return [str(v) for v in value if str(v).strip()]
    return [part.strip() for part in str(value).split(",") if part.strip()]


class SecretBox:
    """Encrypts a dict of secrets to one Fernet token and back."""

    def __init__(self, secret_key: str, old_keys: list[str] | None = None) -> None:
        keys = [secret_key, *[k for k in (old_keys or []) if k != secret_key]]
        self._multi = MultiFernet([_fernet(k) for k in keys])

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        return cls(settings.secret_key, old_secret_keys(settings))

    def encrypt(self, secrets: dict[str, Any]) -> str:
        if not secrets:
            return ""
        data = json.dumps(secrets, ensure_ascii=False, sort_keys=True).encode()
        return self._multi.encrypt(data).decode()

    def decrypt(self, token: str) -> dict[str, Any]:
        if not token:
            return {}
        try:
            return json.loads(self._multi.decrypt(token.encode()))
        except InvalidToken as exc:
            raise SecretDecryptError(
                "stored secrets cannot be decrypted: NPSLOOP_SECRET_KEY changed without "
                "listing the previous key in NPSLOOP_OLD_SECRET_KEYS"
            ) from exc

    def rotate(self, token: str) -> str:
        """Re-encrypts with the current key (a token already under it is re-issued)."""
        if not token:
            return token
        try:
            return self._multi.rotate(token.encode()).decode()
        except InvalidToken as exc:
            raise SecretDecryptError("stored secrets cannot be decrypted for rotation") from exc


def mask(value: str) -> str:
    """What the API shows instead of a secret: enough to recognise it, not to use it."""
    if not value:
        return ""
    if len(value) >= 16:
        return "••••••" + value[-4:]
    return "••••••"


def is_mask(value: object) -> bool:
    return isinstance(value, str) and value.startswith("••••••")
