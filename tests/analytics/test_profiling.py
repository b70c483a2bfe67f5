"""Profiling: over-indexing lifts with two-proportion tests and Benjamini-Hochberg q-values,
and churned versus retained contacts, on both backends."""

from datetime import UTC, datetime

import pytest

from npsloop.analytics.profiling import benjamini_hochberg
from npsloop.analytics.stats import compare, compare_proportions, summarize
from npsloop.contacts.models import Event
from tests.analytics.helpers import add_contact, add_response


def test_benjamini_hochberg_by_hand():
    q = benjamini_hochberg([0.01, 0.04, 0.03, 0.20])
    assert q == pytest.approx([0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.20])
    assert benjamini_hochberg([]) == []


def _event(db, org_id, contact, name):
    db.add(Event(org_id=org_id, contact_id=contact.id, name=name, properties={},
                 occurred_at=datetime(2026, 2, 1, tzinfo=UTC)))


def _seed_profile(db, org, survey):
    sid = survey["id"]
    for i in range(60):
        contact = add_contact(db, org.org_id, tags=["late_delivery"] if i < 30 else [])
        if i < 20:
            _event(db, org.org_id, contact, "complaint")
        add_response(db, org.org_id, sid, 2, contact=contact, channel="sms" if i < 40 else "web",
                     attributes={"plan": "basic" if i < 45 else "pro", "city": "上海"})
    for i in range(60):
        contact = add_contact(db, org.org_id, tags=["late_delivery"] if i < 3 else [])
        if i < 2:
            _event(db, org.org_id, contact, "complaint")
        add_response(db, org.org_id, sid, 10, contact=contact, channel="sms" if i < 20 else "web",
                     attributes={"plan": "basic" if i < 15 else "pro", "city": "上海"})
    add_response(db, org.org_id, sid, 8, attributes={"plan": "basic"})  # passives don't count
    db.commit()


def test_over_indexing_features(client, db, org, survey):
    _seed_profile(db, org, survey)
    response = client.get("/api/v1/stats/profile", headers=org.headers)
    assert response.status_code == 200, response.text
    data = response.json()
    assert (data["detractors"], data["promoters"]) == (60, 60)
    features = {(f["kind"], f["value"]): f for f in data["features"]}
    basic = features[("attribute", "basic")]
    assert basic["name"] == "plan"
    assert (basic["detractors_with"], basic["promoters_with"]) == (45, 15)
    assert basic["lift"] == pytest.approx(3.0)
    reference = compare_proportions(45, 60, 15, 60)
    assert basic["z"] == reference.z and basic["p_value"] == pytest.approx(reference.p_value)
    assert basic["significant"] is True and basic["leans"] == "detractor"
    assert features[("attribute", "pro")]["leans"] == "promoter"
    assert features[("tag", "late_delivery")]["lift"] == pytest.approx(10.0)
    assert features[("event", "complaint")]["detractors_with"] == 20
    assert features[("channel", "sms")]["lift"] == pytest.approx(2.0)
    # The same city for everyone: no difference, and never significant.
    city = features[("attribute", "上海")]
    assert city["lift"] == 1.0 and city["significant"] is False
    p_values = [f["p_value"] for f in data["features"] if f["p_value"] is not None]
    assert data["tested"] == len(data["features"]) and len(p_values) > 4
    for feature in data["features"]:
        if feature["p_value"] is not None:
            assert feature["q_value"] >= feature["p_value"]
    assert data["features"][0]["significant"] is True
    filtered = client.get("/api/v1/stats/profile", headers=org.headers,
                          params={"channel": "web", "min_count": 50}).json()
    assert (filtered["detractors"], filtered["promoters"]) == (20, 40)
    assert all(f["detractors_with"] + f["promoters_with"] >= 50 for f in filtered["features"])


def test_churned_versus_retained(client, db, org, survey):
    sid = survey["id"]
    jan, feb = datetime(2026, 1, 15, 4, tzinfo=UTC), datetime(2026, 2, 15, 4, tzinfo=UTC)
    for i in range(40):
        contact = add_contact(db, org.org_id, attributes={"status": "churned" if i < 10
                                                          else "active"})
        if i < 10:
            _event(db, org.org_id, contact, "subscription_cancelled")
            add_response(db, org.org_id, sid, 3 if i < 7 else 9, contact=contact, at=jan)
        else:
            add_response(db, org.org_id, sid, 10 if i < 30 else 5, contact=contact,
                         at=jan if i < 20 else feb)
    add_response(db, org.org_id, sid, 0)  # no contact: in neither group
    db.commit()
    by_event = client.get("/api/v1/stats/churn", headers=org.headers,
                          params={"event": "subscription_cancelled"}).json()
    churned, retained = summarize(3, 0, 7), summarize(20, 0, 10)
    assert by_event["churned"]["contacts"] == 10 and by_event["retained"]["contacts"] == 30
    assert by_event["churned"]["nps"] == churned.nps
    assert by_event["retained"]["nps"] == retained.nps
    expected = compare(retained, churned)
    assert by_event["difference"]["difference"] == expected.difference
    assert by_event["difference"]["p_value"] == pytest.approx(expected.p_value)
    assert [h["key"] for h in by_event["retained"]["history"]] == ["2026-01-01", "2026-02-01"]
    assert [h["n"] for h in by_event["churned"]["history"]] == [10]
    by_attribute = client.get("/api/v1/stats/churn", headers=org.headers,
                              params={"attribute": "status", "value": "churned"}).json()
    assert by_attribute["churned"]["nps"] == churned.nps
    assert by_attribute["definition"] == {"attribute": "status", "value": "churned"}


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [("churn", {}, "event"), ("churn", {"attribute": "status"}, "value"),
     ("churn", {"event": "x", "bucket": "year"}, "bucket"),
     ("profile", {"min_count": "0"}, "min_count")],
)
def test_bad_profiling_parameters(client, org, path, params, field):
    response = client.get(f"/api/v1/stats/{path}", headers=org.headers, params=params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", field]
