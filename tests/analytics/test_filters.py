"""The shared filter model: parsing (422 naming the parameter), a shareable query string,
and every filter applied in SQL on both backends through the statistics routes."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from npsloop.analytics.filters import (
    FilterError,
    parse_filters,
    register_segment_resolver,
)
from npsloop.contacts.models import Contact
from tests.analytics.helpers import add_contact, add_response


def test_parse_builds_filters_and_a_shareable_query():
    params = {"from": ["2026-03-01"], "to": ["2026-03-31"], "channel": ["email"],
              "tag": ["vip", "vip", "beta"], "attr.city": ["上海"], "lifecycle_stage":
              ["retention"], "nps_type": ["relationship"], "bucket": ["week"]}
    filters = parse_filters(params, "Asia/Shanghai", allowed_extra=["bucket"])
    assert filters.channel == "email"
    assert filters.tags == ["vip", "beta"]
    assert filters.attributes == {"city": "上海"}
    assert filters.date_from == datetime(2026, 2, 28, 16, tzinfo=UTC)
    assert filters.date_to == datetime(2026, 3, 31, 16, tzinfo=UTC)
    again = parse_filters(
        {k: [v] if k != "tag" else filters.as_dict()["tag"] for k, v in
         filters.as_dict().items()}, "Asia/Shanghai")
    assert again.query == filters.query
    assert "attr.city=%E4%B8%8A%E6%B5%B7" in filters.query_string()
    assert "bucket" not in filters.query_string()


@pytest.mark.parametrize(
    ("params", "field"),
    [({"chanel": ["sms"]}, "chanel"), ({"nps_type": ["loyalty"]}, "nps_type"),
     ({"lifecycle_stage": ["churned"]}, "lifecycle_stage"), ({"status": ["done"]}, "status"),
     ({"from": ["2026-13-01"]}, "from"), ({"from": ["2026-03-02"], "to": ["2026-03-01"]}, "to"),
     ({"attr.a b": ["x"]}, "attr.a b"), ({"channel": ["a", "b"]}, "channel"),
     ({"tag": ["x" * 201]}, "tag")],
)
def test_parse_errors_name_the_parameter(params, field):
    with pytest.raises(FilterError) as info:
        parse_filters(params, "UTC")
    assert info.value.field == field


def test_lenient_parse_ignores_unknown_parameters():
    assert parse_filters({"cache": ["1"]}, "UTC", strict=False).query == []


def _nps(client, org, **params):
    response = client.get("/api/v1/stats/nps", headers=org.headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_lifecycle_tags_attributes_status_filters(client, db, org, survey):
    vip = add_contact(db, org.org_id, tags=["vip", "beta"], lifecycle_stage="retention")
    plain = add_contact(db, org.org_id, tags=["beta"], lifecycle_stage="acquisition")
    sid = survey["id"]
    add_response(db, org.org_id, sid, 10, contact=vip, attributes={"city": "上海"})
    add_response(db, org.org_id, sid, 9, contact=plain, attributes={"city": "上海"})
    # The snapshot's lifecycle stage wins over the contact's current one.
    add_response(db, org.org_id, sid, 0, contact=plain,
                 attributes={"city": "北京", "lifecycle_stage": "retention"}, status="partial")
    add_response(db, org.org_id, sid, 5)
    db.commit()
    assert _nps(client, org, tag="vip")["n"] == 1
    assert _nps(client, org, tag="beta")["n"] == 3
    assert _nps(client, org, tag=["beta", "vip"])["n"] == 1
    assert _nps(client, org, tag="nobody")["n"] == 0
    retention = _nps(client, org, lifecycle_stage="retention")
    assert (retention["n"], retention["nps"]) == (2, 0.0)
    assert _nps(client, org, lifecycle_stage="acquisition")["n"] == 1
    assert _nps(client, org, **{"attr.city": "上海"})["n"] == 2
    assert _nps(client, org, status="partial")["detractors"] == 1
    groups = _nps(client, org, group_by="lifecycle_stage")["groups"]
    assert {g["key"]: g["n"] for g in groups} == {None: 1, "acquisition": 1, "retention": 2}


def test_segment_filter_uses_the_contacts_segments(client, db, org, survey):
    from npsloop.contacts import segments

    vip = add_contact(db, org.org_id, tags=["vip"])
    add_response(db, org.org_id, survey["id"], 10, contact=vip)
    add_response(db, org.org_id, survey["id"], 0, contact=add_contact(db, org.org_id))
    add_response(db, org.org_id, survey["id"], 0)
    segment = segments.create_segment(
        db, org_id=org.org_id, name="VIP",
        rules={"match": "all", "conditions": [
            {"field": "tags", "operator": "has_any", "value": ["vip"]}]})
    db.commit()
    data = _nps(client, org, segment=segment.id)
    assert (data["n"], data["nps"]) == (1, 100.0)
    trend = client.get("/api/v1/stats/trend", headers=org.headers,
                       params={"segment": segment.id, "bucket": "month"}).json()
    assert trend["buckets"][0]["n"] == 1 and f"segment={segment.id}" in trend["share_query"]
    assert client.get("/api/v1/stats/nps", headers=org.headers,
                      params={"segment": "missing"}).status_code == 404


def _segment_by_tier(session, org_id, segment_id):
    """A resolver installed through the hook: contacts whose attribute tier is the id."""
    if segment_id not in ("gold", "silver"):
        raise LookupError(segment_id)
    return select(Contact.id).where(Contact.org_id == org_id,
                                    Contact.attributes["tier"].as_string() == segment_id)


def test_segment_resolver_hook(client, db, org, survey):
    gold = add_contact(db, org.org_id, attributes={"tier": "gold"})
    add_response(db, org.org_id, survey["id"], 10, contact=gold)
    add_response(db, org.org_id, survey["id"], 0)
    db.commit()
    register_segment_resolver(_segment_by_tier)
    try:
        assert _nps(client, org, segment="gold")["n"] == 1
        assert _nps(client, org, segment="silver")["n"] == 0
        missing = client.get("/api/v1/stats/nps", headers=org.headers,
                             params={"segment": "bronze"})
        assert missing.status_code == 404
    finally:
        register_segment_resolver(None)


def test_every_route_rejects_a_typo_naming_it(client, org, survey):
    for path, extra in (("trend", {}), ("crosstab", {"rows": "channel", "cols": "month"}),
                        ("distribution", {"by": "channel"}), ("drivers", {})):
        response = client.get(f"/api/v1/stats/{path}", headers=org.headers,
                              params={**extra, "chanel": "sms"})
        assert response.status_code == 422, (path, response.text)
        assert response.json()["detail"][0]["loc"] == ["query", "chanel"]
    export = client.get("/api/v1/exports/responses", headers=org.headers,
                        params={"format": "csv", "chanel": "sms"})
    assert export.status_code == 422


def test_other_organisations_survey_is_404_everywhere(client, make_org, org, survey):
    other = make_org("Other")
    for path, extra in (("nps", {}), ("trend", {}), ("crosstab", {"rows": "channel",
                        "cols": "month"}), ("distribution", {"by": "channel"}),
                        ("drivers", {})):
        response = client.get(f"/api/v1/stats/{path}", headers=other.headers,
                              params={**extra, "survey_id": survey["id"]})
        assert response.status_code == 404, (path, response.text)
    assert client.get("/api/v1/exports/responses", headers=other.headers,
                      params={"survey_id": survey["id"]}).status_code == 404
