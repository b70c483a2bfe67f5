"""JSON numbers that no database column can hold are a 422 naming the body, not a 500."""

from __future__ import annotations

import pytest

from npsloop.core.input_guard import non_finite_location


@pytest.mark.parametrize("raw", [b'{"a": NaN}', b'{"a": [1, Infinity]}', b'{"a": -Infinity}',
                                 b'{"p": {"x": 1e400}}'])
def test_non_finite_numbers_are_found(raw):
    assert non_finite_location(raw) == ["body"]


@pytest.mark.parametrize("raw", [b'{"a": "NaN"}', b'{"a": 1.5e10, "b": "Infinity"}',
                                 b'{"a": 1e308}', b'not json NaN'])
def test_finite_numbers_and_text_pass(raw):
    assert non_finite_location(raw) is None


def test_events_with_nan_properties_are_a_422(client, org):
    body = b'{"contact_external_id": "N-1", "name": "order_paid", "properties": {"x": NaN}}'
    response = client.post("/api/v1/events", content=body,
                           headers={**org.headers, "Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert "finite" in response.json()["detail"][0]["msg"]
    ok = client.post("/api/v1/events", json={"contact_external_id": "N-1", "name": "order_paid",
                                             "properties": {"x": 1.5, "note": "NaN"}},
                     headers=org.headers)
    assert ok.status_code == 200, ok.text
