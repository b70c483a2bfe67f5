"""The fast ingest path (responses/fast_ingest.py) answers exactly as the route does, stores
exactly the same rows, and hands everything it does not handle to the route."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from npsloop.accounts.models import Role
from npsloop.analytics.models import ResponseDaily
from npsloop.app import create_app
from npsloop.core.config import Settings
from npsloop.core.outbox import OutboxEvent
from npsloop.responses import fast_ingest
from npsloop.responses.group_commit import GroupCommit
from npsloop.responses.models import Response
from npsloop.surveys.models import Survey
from tests.responses.fast_ingest_helpers import (
    SURVEY,
    VOLATILE,
    answered,
    fast_response,
    stored_rows,
)


@pytest.fixture
def slow_client(settings: Settings, db_factory):
    """The same app and database with the fast path switched off: the reference."""
    app = create_app(settings.model_copy(update={"ingest_group_commit": False}), db_factory,
                     start_worker=False)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def surveys(client, org):
    """Two identical surveys: one posted to through each path."""
    return [client.post("/api/v1/surveys", json=SURVEY, headers=org.headers).json()["id"]
            for _ in range(2)]


def post(client, survey_id, body, headers):
    return client.post(f"/api/v1/surveys/{survey_id}/responses", json=body, headers=headers)


def comparable(reply: httpx.Response) -> tuple[int, dict, object]:
    headers = {k: v for k, v in reply.headers.items() if k not in ("content-length", "date")}
    try:
        body = reply.json()
    except ValueError:
        return reply.status_code, headers, reply.text
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k not in VOLATILE}
    return reply.status_code, headers, body


BODIES = [
    {"score": 9},
    {"score": 0, "comment": "  太慢了 ", "idempotency_key": "k-1"},
    {"score": 7, "drivers": {"price": 2, "delivery": 5}, "choices": {"plan": ["pro"],
     "why": ["speed", "price"]}, "language": "en", "channel": "email"},
    {"score": 8, "status": "partial", "idempotency_key": "tap"},
    {"score": 10, "submitted_at": "2026-03-01T10:00:00+08:00", "language": "zh"},
]


def test_same_answers_and_same_rows(client, slow_client, org, surveys, db):
    fast, slow = surveys
    for body in BODIES:
        first = [post(client, fast, body, org.headers), post(slow_client, slow, body, org.headers)]
        again = [post(client, fast, body, org.headers), post(slow_client, slow, body, org.headers)]
        assert first[0].status_code == 201, first[0].text
        assert comparable(first[0]) == comparable(first[1]), body
        assert comparable(again[0]) == comparable(again[1]), body
        if "submitted_at" in body:
            assert first[0].json()["submitted_at"] == first[1].json()["submitted_at"]
    # All but the replay of the partial response (the route completes it) took the fast path.
    assert answered(client.app) == 2 * len(BODIES) - 1
    assert answered(slow_client.app) == 0
    # Rows, answers, events and the rollup's counts: the same but for ids and clocks.
    assert stored_rows(db, fast) == stored_rows(db, slow)


def test_created_answer_is_byte_identical_but_for_ids_and_clocks(client, slow_client, org,
                                                                 surveys):
    body = {"score": 6, "comment": "配送很快", "drivers": {"price": 3}}
    replies = [post(client, surveys[0], body, org.headers),
               post(slow_client, surveys[1], body, org.headers)]
    texts = []
    for reply in replies:
        data = reply.json()
        text_ = reply.content.decode()
        for name in ("id", "survey_id", "submitted_at", "completed_at"):
            text_ = text_.replace(json.dumps(data[name]), "X")
        texts.append(text_)
    assert texts[0] == texts[1]
    assert list(replies[0].headers) == list(replies[1].headers)


LONG = "x" * 5001
INVALID = [
    {"score": 11}, {"score": -1}, {"score": "abc"}, {"score": 9.5}, {"score": True},
    {"comment": "no score"}, {"score": 5, "comment": LONG},
    {"score": 5, "drivers": {"price": 6}}, {"score": 5, "drivers": {"speed": 3}},
    {"score": 5, "choices": {"plan": ["gold"]}}, {"score": 5, "choices": {"nope": ["a"]}},
    {"score": 5, "choices": {"plan": ["free", "pro"]}}, {"score": 5, "language": "fr"},
    {"score": 5, "channel": "Bad Channel"}, {"score": 5, "status": "done"},
    {"score": 5, "submitted_at": "2026-01-01T10:00:00"},
    {"score": 5, "submitted_at": "2999-01-01T10:00:00Z"}, {"score": 5, "idempotency_key": ""},
    {"score": 5, "comment": "nul \x00 here"}, [1, 2], "text",
]


def test_invalid_posts_are_answered_by_the_route(client, slow_client, org, surveys):
    for body in INVALID:
        replies = [post(client, surveys[0], body, org.headers),
                   post(slow_client, surveys[1], body, org.headers)]
        assert replies[0].status_code == 422, (body, replies[0].text)
        assert comparable(replies[0]) == comparable(replies[1]), body
    headers = {**org.headers, "content-type": "application/json"}
    for raw in (b"not json", b'{"score": NaN}', b'{"score": 1e400}',
                b'{"score": 5, "comment": "\\u0000"}', b"", b'{"score": 5, "score": 11}'):
        replies = [c.post(f"/api/v1/surveys/{s}/responses", content=raw, headers=headers)
                   for c, s in ((client, surveys[0]), (slow_client, surveys[1]))]
        assert replies[0].status_code == 422, raw
        assert comparable(replies[0]) == comparable(replies[1]), raw
    assert answered(client.app) == 0


def test_who_may_post(client, slow_client, org, make_org, surveys, role_key):
    other = make_org("Other")
    viewer = role_key(org.org_id, Role.viewer)
    cases = [
        ("nope", org.headers, 404),  # unknown survey
        (surveys[0], other.headers, 404),  # another organisation's survey
        (surveys[0], {"Authorization": "Bearer npl_not-a-key"}, 401),
        (surveys[0], viewer, 403),  # a role without response:write
        (surveys[0], {}, 401),
    ]
    for survey_id, headers, status in cases:
        replies = [post(c, survey_id, {"score": 5}, headers) for c in (client, slow_client)]
        assert replies[0].status_code == status, (survey_id, headers, replies[0].text)
        assert comparable(replies[0]) == comparable(replies[1])
    assert answered(client.app) == 0


def test_revoked_key_is_refused_at_once(client, org, surveys):
    created = client.post("/api/v1/api-keys", json={"name": "int", "role": "admin"},
                          headers=org.headers).json()
    headers = {"Authorization": f"Bearer {created['api_key']}"}
    assert post(client, surveys[0], {"score": 5}, headers).status_code == 201
    assert answered(client.app) == 1
    revoked = client.delete(f"/api/v1/api-keys/{created['id']}", headers=org.headers)
    assert revoked.status_code == 204
    assert post(client, surveys[0], {"score": 5}, headers).status_code == 401


def test_partial_then_complete_and_replays(client, org, surveys, db):
    key = {"idempotency_key": "tap-7"}
    assert post(client, surveys[0], {"score": 4, "status": "partial", **key},
                org.headers).status_code == 201
    done = post(client, surveys[0], {"score": 5, "comment": "ok", **key}, org.headers)
    assert done.status_code == 200 and done.headers["Idempotent-Replay"] == "true"
    assert done.json()["status"] == "complete" and done.json()["score"] == 5
    again = post(client, surveys[0], {"score": 1, **key}, org.headers)
    assert again.status_code == 200 and again.json() == done.json()
    assert db.scalar(select(text("count(*)")).select_from(Response).where(
        Response.survey_id == surveys[0])) == 1


def test_contact_and_cookie_posts_take_the_route(client, org, surveys, make_user):
    body = {"score": 9, "contact": {"external_id": "c-9", "attributes": {"plan": "gold"}}}
    reply = post(client, surveys[0], body, org.headers)
    assert reply.status_code == 201 and reply.json()["contact_id"]
    assert reply.json()["contact_attributes"] == {"plan": "gold"}
    assert answered(client.app) == 0
    email = make_user(org.org_id, Role.analyst)
    signed_in = client.post("/login", data={"email": email, "password": "password-123"},
                            follow_redirects=False)
    assert signed_in.status_code == 303
    no_csrf = client.post(f"/api/v1/surveys/{surveys[0]}/responses", json={"score": 3})
    assert no_csrf.status_code == 403
    assert answered(client.app) == 0


def test_switched_off(settings, db_factory, org, surveys):
    app = create_app(settings.model_copy(update={"ingest_group_commit": False}), db_factory,
                     start_worker=False)
    with TestClient(app) as off:
        assert post(off, surveys[0], {"score": 5}, org.headers).status_code == 201
        assert fast_ingest.find(app) is None


def test_a_survey_deleted_meanwhile_is_answered_by_the_route(client, org, surveys, db):
    assert post(client, surveys[0], {"score": 5}, org.headers).status_code == 201  # cached
    db.execute(delete(Survey).where(Survey.id == surveys[0]))
    db.commit()
    reply = post(client, surveys[0], {"score": 5}, org.headers)
    assert reply.status_code == 404, reply.text


def test_one_bad_row_fails_only_its_own_request(db_factory, org, surveys, db):
    writer = GroupCommit(db_factory)
    rows = [fast_response(org.org_id, surveys[0], score) for score in (1, 2, 3)]
    rows[1].survey_id = "no-such-survey"  # a foreign-key violation inside the batch
    duplicate = fast_response(org.org_id, surveys[0], 4, key="same")
    twin = fast_response(org.org_id, surveys[0], 5, key="same")
    outcomes = writer.write([*rows, duplicate, twin])
    assert [o.kind for o in outcomes] == ["created", "fallthrough", "created", "created",
                                          "replay"]
    assert outcomes[4].response["id"] == duplicate.id
    ids = set(db.scalars(select(Response.id).where(Response.survey_id == surveys[0])))
    assert ids == {rows[0].id, rows[2].id, duplicate.id}
    events = db.scalars(select(OutboxEvent.topic).where(
        OutboxEvent.payload["response_id"].as_string().in_(ids))).all()
    assert sorted(events) == sorted(["response.created", "response.completed"] * 3)


def test_concurrent_posts_store_each_once(backend, committed_org):
    """50 concurrent posts, ten of them sharing five keys, on the real pool (and, on
    PostgreSQL, two writers): one row per distinct post, each key's twin a replay."""
    app = create_app(Settings(database_url=backend.url, env="test", inprocess_worker=False),
                     start_worker=False)
    headers = committed_org.headers

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            survey = (await client.post("/api/v1/surveys", json=SURVEY, headers=headers)).json()
            url = f"/api/v1/surveys/{survey['id']}/responses"
            bodies = [{"score": i % 11, "idempotency_key": f"k{i % 45}"} for i in range(50)]
            return await asyncio.gather(*(client.post(url, json=b, headers=headers)
                                          for b in bodies))

    try:
        replies = asyncio.run(run())
    finally:
        app.state.session_factory.kw["bind"].dispose()
    assert sorted(r.status_code for r in replies) == [200] * 5 + [201] * 45
    assert len({r.json()["id"] for r in replies}) == 45
    assert answered(app) == 50
    with Session(backend.engine) as session:
        stored = session.scalars(select(Response.idempotency_key).where(
            Response.org_id == committed_org.org_id)).all()
        assert sorted(stored) == sorted(f"k{i}" for i in range(45))
        events = session.scalar(select(text("count(*)")).select_from(OutboxEvent).where(
            OutboxEvent.org_id == committed_org.org_id, OutboxEvent.topic == "response.created"))
        assert events == 45
        daily = session.scalar(select(text("coalesce(sum(n), 0)")).select_from(ResponseDaily)
                               .where(ResponseDaily.org_id == committed_org.org_id))
        state = session.execute(text(
            "SELECT timezone, utc_offset_minutes FROM analytics_rollup_state WHERE org_id = :o"),
            {"o": committed_org.org_id}).one()
        built = state[0] is not None and (backend.name == "postgresql" or state[1] is not None)
        assert daily == (45 if built else 0)


def test_a_survey_edited_through_the_app_is_seen_at_once(client, org, surveys):
    assert post(client, surveys[0], {"score": 5, "language": "en"}, org.headers).status_code \
        == 201
    assert post(client, surveys[0], {"score": 5, "drivers": {"price": 2}}, org.headers
                ).status_code == 201
    questions = [q for q in SURVEY["questions"] if q["key"] != "price"]
    edited = client.patch(f"/api/v1/surveys/{surveys[0]}", headers=org.headers,
                          json={"languages": ["zh-CN"], "questions": questions})
    assert edited.status_code == 200, edited.text
    for body, field in (({"score": 5, "language": "en"}, "language"),
                        ({"score": 5, "drivers": {"price": 2}}, "drivers")):
        reply = post(client, surveys[0], body, org.headers)
        assert reply.status_code == 422, reply.text
        assert reply.json()["detail"][0]["loc"][1] == field


def test_ids_have_the_format_of_new_id():
    pool = fast_ingest.IdPool(batch=4)
    ids = [pool.take() for _ in range(10)]
    assert len(set(ids)) == 10
    assert all(uuid.UUID(hex=i).version == 4 and uuid.UUID(hex=i).hex == i for i in ids)
