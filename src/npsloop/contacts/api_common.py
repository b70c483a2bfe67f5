"""What the contacts API modules share: permissions and error shapes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, status

from npsloop.accounts.deps import Principal, require
from npsloop.contacts.service import FieldError

# Contacts are customer data read and written by the same roles as responses.
Reader = Annotated[Principal, Depends(require("response:read"))]
Writer = Annotated[Principal, Depends(require("response:write"))]


def _loc(field: str, where: str) -> list[str | int]:
    return [where, *(int(p) if p.isdigit() else p for p in field.split(".") if p)]


def unprocessable(errors: list[FieldError] | list[tuple[str, str]], where: str = "body"
                  ) -> HTTPException:
    """A 422 in FastAPI's own shape, one entry per problem."""
    pairs = [(e.field, e.message) if isinstance(e, FieldError) else e for e in errors]
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=[{"loc": _loc(f, where), "msg": m, "type": "value_error"} for f, m in pairs],
    )


def not_found(what: str, ident: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=f"{what} '{ident}' not found")
