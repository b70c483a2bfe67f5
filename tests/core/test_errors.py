"""Domain bad-input errors share one base and one fallback answer."""

from __future__ import annotations

from fastapi.testclient import TestClient

from npsloop.core.errors import InputError
from npsloop.outcomes.service import OutcomeError
from npsloop.plans.service import PlanError


def test_domain_errors_keep_field_message_and_status() -> None:
    error = OutcomeError("window_days", "must be 1..365", status_code=404)
    assert isinstance(error, InputError) and isinstance(error, ValueError)
    assert (error.field, error.message, error.status_code) == ("window_days", "must be 1..365",
                                                               404)
    assert str(error) == "window_days: must be 1..365"
    assert PlanError("title", "required").status_code == 422


def test_an_untranslated_domain_error_is_a_422_naming_the_field(app) -> None:
    @app.get("/test-only/raises")
    def raises() -> None:
        raise PlanError("target.metric", "unknown metric 'x'")

    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/test-only/raises")
    assert answer.status_code == 422
    assert answer.json() == {"detail": [{"loc": ["body", "target", "metric"],
                                         "msg": "unknown metric 'x'", "type": "value_error"}]}
