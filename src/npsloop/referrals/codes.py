"""Referral codes people can read aloud and type: no 0/O, 1/I/L look-alikes.

Codes are 8 characters from a 31-symbol alphabet (31^8, about 8.5e11 codes), shown as two
groups of four ("K7MQ-X3PA"). Input is forgiving: case, spaces and dashes are ignored.
"""

from __future__ import annotations

import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH = 8
_ALLOWED = frozenset(ALPHABET)


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalize(raw: str) -> str | None:
    """The stored form of a typed code, or None if it cannot be a code."""
    code = "".join(raw.split()).replace("-", "").upper()
    if len(code) != LENGTH or not set(code) <= _ALLOWED:
        return None
    return code


def display(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"
