"""Documents the error answers every API operation can give, in the OpenAPI spec.

Routes declare their success model; the errors come from shared machinery (the API key
check: 401, the role check: 403, a missing object: 404, a conflict: 409, a rate limit: 429)
and all have the shape {"detail": ...}. Listing them once here keeps the spec true without
repeating `responses=` on every route; schema fuzzing checks every answer against it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": {"title": "Detail",
                              "anyOf": [{"type": "string"}, {"type": "array"},
                                        {"type": "object"}]}},
}
COMMON_ERRORS = {
    "400": "Bad request",
    "401": "Missing, invalid or revoked API key",
    "403": "The key's role lacks the permission this operation needs",
    "404": "Not found in this organisation",
    "409": "Conflicts with the current state",
    "413": "Request body too large",
    "422": "Invalid input: `detail` names the field and why",
    "429": "Too many requests; see Retry-After",
}


def install(app: FastAPI) -> None:
    """Replaces app.openapi with one that adds COMMON_ERRORS to every /api operation."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version,
                             description=app.description, routes=app.routes)
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas.setdefault("Error", ERROR_SCHEMA)
        for path, operations in schema.get("paths", {}).items():
            if not path.startswith("/api/"):
                continue
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for code, description in COMMON_ERRORS.items():
                    responses.setdefault(code, {
                        "description": description,
                        "content": {"application/json": {
                            "schema": {"$ref": "#/components/schemas/Error"}}}})
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
