"""Property tests (hypothesis) on the three parsers of untrusted input: response ingest, the
contact import reader and the rules engine. Whatever the input, the answer is a clean 4xx or
a clean parse error, and nothing is counted twice."""

from __future__ import annotations

import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from npsloop.contacts.import_source import SourceError, open_source
from npsloop.tickets.rules import (
    AttributeCondition,
    CategoryCondition,
    Facts,
    GroupCondition,
    RuleBody,
    ScoreCondition,
    combine,
)

FAST = settings(max_examples=60, deadline=None, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck))

json_scalars = st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(
    allow_nan=False) | st.text(max_size=40)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                 max_size=4),
    max_leaves=12)


# -- ingest --------------------------------------------------------------------------------

ingest_bodies = st.fixed_dictionaries({}, optional={
    "score": st.integers(-3, 14) | json_scalars,
    "comment": st.text(max_size=200) | json_scalars,
    "drivers": st.dictionaries(st.sampled_from(["price", "delivery", "x"]),
                               st.integers(-1, 7) | json_scalars, max_size=3) | json_values,
    "language": st.sampled_from(["zh-CN", "en", "fr", ""]) | json_scalars,
    "channel": st.sampled_from(["api", "email", "sms", "widget", "?"]),
    "idempotency_key": st.text(alphabet="abcdef0123456789-", min_size=0, max_size=20),
    "status": st.sampled_from(["partial", "complete", "other"]),
    "contact": st.fixed_dictionaries({"external_id": st.text(max_size=20)},
                                     optional={"attributes": json_values}) | json_scalars,
    "submitted_at": st.sampled_from(["2026-01-01T00:00:00Z", "yesterday", "2999-01-01"]),
})


def test_ingest_answers_4xx_or_counts_exactly_once(client, org, survey):
    path = f"/api/v1/surveys/{survey['id']}/responses"
    seen_keys: set[str] = set()
    state = {"count": 0}

    @FAST
    @given(body=ingest_bodies)
    def ingest(body: dict) -> None:
        first = client.post(path, json=body, headers=org.headers)
        assert first.status_code < 500, first.text
        assert first.status_code in (200, 201, 404, 409, 422), first.text
        if first.status_code == 422:
            assert first.json()["detail"][0]["loc"], first.text  # names the field
        key = body.get("idempotency_key")
        if first.status_code == 201:
            state["count"] += 1
            assert not key or key not in seen_keys
        if first.status_code in (200, 201) and key:
            seen_keys.add(key)
            again = client.post(path, json=body, headers=org.headers)  # a retry
            assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
        total = client.get(path, headers=org.headers, params={"limit": 1}).json()["total"]
        assert total == state["count"]

    ingest()


# -- contact import reader -------------------------------------------------------------------

csv_cells = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


@FAST
@given(raw=st.binary(max_size=600), name=st.sampled_from(["c.csv", "c.xlsx", "c.xls", "c"]),
       encoding=st.sampled_from(["auto", "utf-8", "gbk", "utf-16", "latin9"]))
def test_import_reader_reads_or_names_the_problem(raw: bytes, name: str, encoding: str):
    try:
        source = open_source(io.BytesIO(raw), name, encoding)
        rows = list(source.rows())
    except SourceError as exc:
        assert str(exc)
        return
    named = [h for h in source.header if h]
    assert source.header and len(named) == len(set(named))  # duplicates are refused
    assert all(number >= 2 for number, _ in rows)


@FAST
@given(table=st.lists(st.lists(csv_cells, min_size=1, max_size=5), min_size=1, max_size=8),
       encoding=st.sampled_from(["utf-8", "gbk"]))
def test_import_reader_round_trips_written_csv(table: list[list[str]], encoding: str):
    import csv

    header = [f"col{i}" for i in range(max(len(r) for r in table))]
    buffer = io.StringIO()
    csv.writer(buffer).writerows([header, *table])
    try:
        raw = buffer.getvalue().encode("gb18030" if encoding == "gbk" else "utf-8")
    except UnicodeEncodeError:
        return
    try:
        source = open_source(io.BytesIO(raw), "c.csv", encoding)
    except SourceError as exc:
        assert "delimit" in str(exc) or str(exc)  # a clean, named refusal
        return
    rows = [cells for _, cells in source.rows()]
    assert len(rows) <= len(table)


# -- rules engine ----------------------------------------------------------------------------

facts_strategy = st.builds(
    Facts,
    score=st.integers(0, 10),
    category=st.sampled_from(["promoter", "passive", "detractor"]),
    language=st.sampled_from(["zh-CN", "en"]),
    survey_id=st.text(max_size=8),
    comment=st.text(max_size=50),
    drivers=st.dictionaries(st.sampled_from(["price", "delivery"]), st.floats(0, 5)),
    attributes=st.dictionaries(st.sampled_from(["city", "plan", "spend"]),
                               json_scalars, max_size=3),
    tags=st.sets(st.sampled_from(["vip", "new", "b2b"])),
    lifecycle=st.none() | st.sampled_from(["onboarding", "retention"]),
)
attribute_conditions = st.builds(
    AttributeCondition, field=st.just("attribute"), key=st.sampled_from(["city", "plan", "spend"]),
    op=st.just("eq"), value=st.integers(0, 5) | st.sampled_from(["上海", "pro", " PRO "]))


@FAST
@given(body=json_values)
def test_any_rule_body_validates_or_is_refused_cleanly(body):
    try:
        RuleBody.model_validate(body)
    except ValidationError as exc:
        assert exc.errors()


@FAST
@given(facts=facts_strategy, low=st.integers(0, 10), high=st.integers(0, 10))
def test_score_condition_is_the_interval(facts, low, high):
    if low > high:
        return
    condition = ScoreCondition(field="score", min=low, max=high)
    assert condition.test(facts) == (low <= facts.score <= high)


@FAST
@given(facts=facts_strategy, values=st.lists(st.sampled_from(
    ["promoter", "passive", "detractor"]), min_size=1, unique=True), condition=attribute_conditions)
def test_negated_operators_are_complements(facts, values, condition):
    inside = CategoryCondition(field="category", op="in", values=values)
    outside = CategoryCondition(field="category", op="not_in", values=values)
    assert inside.test(facts) != outside.test(facts)
    negated = condition.model_copy(update={"op": "neq"})
    assert condition.test(facts) != negated.test(facts)
    # A group of one condition is that condition, whatever its match mode.
    for match in ("all", "any"):
        group = GroupCondition(field="group", match=match, conditions=[inside])
        assert group.test(facts) == inside.test(facts)
    assert combine("all", [inside, outside], facts) is False
    assert combine("any", [inside, outside], facts) is True


def test_undecodable_upload_is_a_422_not_a_500(client, org):
    """Found by the reader property above: a bad byte raised UnicodeDecodeError (a 500)."""
    response = client.post("/api/v1/contacts/import", headers=org.headers,
                           data={"encoding": "utf-8"},
                           files={"file": ("c.csv", b"external_id,name\n\x80,1\n", "text/csv")})
    assert response.status_code == 422, response.text
    assert "utf-8" in response.text


def test_renaming_a_segment_to_a_taken_name_is_a_422(client, org):
    """Found by schema fuzzing: the duplicate name surfaced as a 500."""
    first = client.post("/api/v1/segments", headers=org.headers, json={"name": "VIP"}).json()
    second = client.post("/api/v1/segments", headers=org.headers, json={"name": "New"}).json()
    for body in ({"name": "VIP"}, {"name": "VIP", "rules": {}}):
        renamed = client.patch(f"/api/v1/segments/{second['id']}", headers=org.headers,
                               json=body)
        assert renamed.status_code == 422, renamed.text
        assert "already exists" in renamed.text
    assert client.get(f"/api/v1/segments/{first['id']}", headers=org.headers
                      ).json()["name"] == "VIP"
