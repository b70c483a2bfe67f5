"""API keys are remembered for a few seconds so ingest skips a query per request; a
revocation still takes effect: at once through this process, within TTL_SECONDS otherwise."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from npsloop.accounts.key_cache import TTL_SECONDS, ApiKeyCache, api_key_cache
from npsloop.accounts.models import ApiKey
from npsloop.core.db import utcnow
from npsloop.core.security import token_hash


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(api_key_cache, "clock", fake)
    api_key_cache.clear()
    yield fake
    api_key_cache.clear()


def test_ttl_is_a_few_seconds():
    assert 0 < TTL_SECONDS <= 10


def test_revoked_in_another_process_stops_working_within_ttl(client, org, db, clock):
    assert client.get("/api/v1/me", headers=org.headers).status_code == 200
    assert api_key_cache.get(token_hash(org.api_key)) is not None
    # Another process of the deployment revokes the key: this process only sees the row.
    db.execute(update(ApiKey).where(ApiKey.key_hash == token_hash(org.api_key))
               .values(revoked_at=utcnow()))
    db.commit()
    clock.now += TTL_SECONDS - 0.5
    assert client.get("/api/v1/me", headers=org.headers).status_code == 200  # still cached
    clock.now += 1.0
    rejected = client.get("/api/v1/me", headers=org.headers)
    assert rejected.status_code == 401
    assert rejected.json()["detail"] == "API key invalid or revoked"
    assert api_key_cache.get(token_hash(org.api_key)) is None  # revoked keys are not cached


def test_revoked_through_this_process_stops_working_at_once(client, org, role_key, clock):
    other = role_key(org.org_id, "admin")
    assert client.get("/api/v1/me", headers=other).status_code == 200
    plain = other["Authorization"].removeprefix("Bearer ")
    keys = client.get("/api/v1/api-keys", headers=org.headers).json()
    key_id = next(k["id"] for k in keys if plain.startswith(k["prefix"]))
    assert client.delete(f"/api/v1/api-keys/{key_id}", headers=org.headers).status_code == 204
    assert client.get("/api/v1/me", headers=other).status_code == 401


def test_cached_key_keeps_its_organisation_and_role(client, make_org, role_key, db, clock):
    org_a, org_b = make_org("A"), make_org("B")
    viewer = role_key(org_a.org_id, "viewer")
    for _ in range(2):  # first request reads the row, the second comes from the cache
        me = client.get("/api/v1/me", headers=viewer)
        assert me.status_code == 200 and me.json()["org_id"] == org_a.org_id
        assert client.post("/api/v1/surveys", headers=viewer, json={"name": "x"}
                           ).status_code == 403
    survey = client.post("/api/v1/surveys", headers=org_b.headers, json={"name": "B"}).json()
    assert client.get(f"/api/v1/surveys/{survey['id']}", headers=viewer).status_code == 404
    stored = db.scalar(select(ApiKey).where(ApiKey.key_hash == token_hash(
        viewer["Authorization"].removeprefix("Bearer "))))
    assert stored is not None and stored.last_used_at is not None


def test_unknown_keys_are_not_cached_and_full_cache_drops_oldest():
    cache = ApiKeyCache(ttl=5, clock=lambda: 0.0, max_entries=2)
    cache.put("a", org_id="o", role="admin", prefix="p")
    cache.put("b", org_id="o", role="admin", prefix="p")
    cache.put("c", org_id="o", role="viewer", prefix="p")
    assert cache.get("a") is None
    assert cache.get("b") is not None and cache.get("c").role == "viewer"
