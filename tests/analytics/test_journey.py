"""Journey map: stage order, touchpoint NPS equal to the statistics module, pooled stages,
sparklines over local months, pain points from detractors' text topics."""

from datetime import UTC, datetime

import pytest

from npsloop.analytics.journey import stage_order
from npsloop.analytics.stats import summarize
from npsloop.textmining.models import ResponseTextTopic, TextTopic
from tests.analytics.helpers import add_response, add_scores, counts_scores

JAN = datetime(2026, 1, 10, 4, tzinfo=UTC)
MAR = datetime(2026, 3, 10, 4, tzinfo=UTC)


def test_stage_order():
    assert stage_order(["zeta", "delivery", "purchase", "购买"], None) == [
        "purchase", "购买", "delivery", "zeta"]
    assert stage_order(["delivery", "purchase", "zeta"], ["zeta", "delivery"]) == [
        "zeta", "delivery", "purchase"]


def _survey(client, org, name, stage, touchpoint):
    body = {"name": name, "status": "live", "nps_type": "touchpoint", "journey_stage": stage,
            "touchpoint": touchpoint, "drivers": []}
    response = client.post("/api/v1/surveys", json=body, headers=org.headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_journey_map(client, db, org, survey):
    checkout = _survey(client, org, "Checkout", "purchase", "checkout")
    app = _survey(client, org, "App", "purchase", "app")
    courier = _survey(client, org, "Courier", "delivery", "courier")
    add_scores(db, org.org_id, checkout, counts_scores(30, 5, 5), at=JAN)
    add_scores(db, org.org_id, checkout, counts_scores(10, 0, 10), at=MAR)
    add_scores(db, org.org_id, app, counts_scores(2, 1, 1), at=MAR)
    courier_ids = []
    for score in counts_scores(5, 5, 20):
        courier_ids.append(add_response(db, org.org_id, courier, score, at=MAR))
    add_scores(db, org.org_id, survey["id"], [10] * 5, at=MAR)  # no stage: not on the map
    db.flush()
    late = TextTopic(org_id=org.org_id, key="late", name_zh="送达慢", name_en="Late delivery")
    rude = TextTopic(org_id=org.org_id, key="rude", name_zh="态度差", name_en="Rude courier")
    db.add_all([late, rude])
    db.flush()
    detractors = [r for r in courier_ids if r.category == "detractor"]
    db.add_all([ResponseTextTopic(response_id=r.id, topic_id=late.id, org_id=org.org_id)
                for r in detractors[:12]])
    db.add_all([ResponseTextTopic(response_id=r.id, topic_id=rude.id, org_id=org.org_id)
                for r in detractors[:4]])
    db.commit()
    response = client.get("/api/v1/stats/journey", headers=org.headers, params={"lang": "en"})
    assert response.status_code == 200, response.text
    data = response.json()
    assert [s["name"] for s in data["stages"]] == ["purchase", "delivery"]
    purchase, delivery = data["stages"]
    assert purchase["n"] == 64 and purchase["nps"] == summarize(42, 6, 16).nps
    assert [t["name"] for t in purchase["touchpoints"]] == ["checkout", "app"]
    checkout_node = purchase["touchpoints"][0]
    assert checkout_node["nps"] == summarize(40, 5, 15).nps
    assert checkout_node["margin"] == summarize(40, 5, 15).margin_of_error
    assert checkout_node["tone"] == "good"  # 41.7
    assert purchase["touchpoints"][1]["too_few"] is True
    assert data["bucket_keys"] == ["2026-01-01", "2026-02-01", "2026-03-01"]
    assert [p["n"] for p in checkout_node["sparkline"]] == [40, 0, 20]
    assert checkout_node["sparkline"][0]["nps"] == summarize(30, 5, 5).nps
    courier_node = delivery["touchpoints"][0]
    assert courier_node["tone"] == "poor"
    assert [(p["topic"], p["detractors"]) for p in courier_node["pain_points"]] == [
        ("late", 12), ("rude", 4)]
    assert courier_node["pain_points"][0]["share"] == pytest.approx(0.6)
    assert courier_node["pain_points"][0]["name"] == "Late delivery"
    zh = client.get("/api/v1/stats/journey", headers=org.headers,
                    params={"lang": "zh-CN", "order": "delivery"}).json()
    assert [s["name"] for s in zh["stages"]] == ["delivery", "purchase"]
    assert zh["stages"][0]["touchpoints"][0]["pain_points"][0]["name"] == "送达慢"
    march = client.get("/api/v1/stats/journey", headers=org.headers,
                       params={"from": "2026-03-01", "to": "2026-03-31"}).json()
    assert march["stages"][0]["touchpoints"][0]["n"] == 20


def test_bad_journey_parameters(client, org):
    response = client.get("/api/v1/stats/journey", headers=org.headers,
                          params={"bucket": "year"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "bucket"]
