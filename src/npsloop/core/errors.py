"""The one shape of a bad-input error every domain raises: which field, why, which status.

Domains subclass it (`class PlanError(InputError)`) so their routes can catch their own
kind, and `app.py` maps any that a route lets through to the same JSON body FastAPI gives
for a validation error: `{"detail": [{"loc": [...], "msg": ..., "type": "value_error"}]}`.
"""

from __future__ import annotations


class InputError(ValueError):
    def __init__(self, field: str, message: str, status_code: int = 422) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.status_code = status_code

    def detail(self) -> list[dict[str, object]]:
        location = ["body", *self.field.split(".")] if self.field else ["body"]
        return [{"loc": location, "msg": self.message, "type": "value_error"}]
