"""Random bodies against the public widget calls: whatever arrives, the answer is a 2xx or a
4xx, never a server error (the test client re-raises any exception the app lets through)."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.widget.conftest import SHOP

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=40))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(max_size=12), inner, max_size=4), max_leaves=12)
FIELDS = {
    "user_id": st.one_of(st.text(min_size=1, max_size=210), st.text(max_size=3), JSON),
    "event": st.one_of(st.sampled_from(["order_paid", "login", "a.b:c-d"]), st.text(max_size=30),
                       JSON),
    "attributes": st.one_of(st.dictionaries(st.text(max_size=70), SCALARS, max_size=5), JSON),
    "properties": JSON,
    "event_id": st.one_of(st.text(max_size=110), JSON),
    "lang": st.one_of(st.sampled_from(["zh", "en-US", "fr"]), st.text(max_size=20), JSON),
    "score": st.one_of(st.integers(min_value=-3, max_value=13), JSON),
    "comment": st.one_of(st.text(max_size=60), JSON),
    "complete": JSON,
    "ticket": st.one_of(st.text(max_size=80), JSON),
    "user_hash": st.one_of(st.text(max_size=70), JSON),
}
BODIES = st.fixed_dictionaries({}, optional=FIELDS)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(action=st.sampled_from(["identify", "track", "answer", "shown", "dismissed"]),
       body=BODIES)
def test_no_body_makes_a_server_error(client, site, action, body):
    response = client.post(site.url(action), content=json.dumps(body).encode(),
                           headers={"Origin": SHOP, "Content-Type": "text/plain"})
    assert response.status_code < 500, (body, response.text)
