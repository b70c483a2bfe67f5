"""Fitting through the API on a database: features come from answers, drivers and events
in SQL, the holdout AUC reflects a planted signal, every answering contact gets a score,
and organisations stay apart."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import insert

from npsloop.analytics.stats import category_of
from npsloop.contacts.models import Contact, Event
from npsloop.core.db import new_id
from npsloop.outcomes.models import ContactScore
from npsloop.responses.models import Response, ResponseAnswer
from tests.outcomes.helpers import now_s

CONTACTS = 320


def plant(db, org_id: str, survey_id: str, seed: int = 5) -> None:
    """One answer per contact over 200 days; low scores and bad delivery churn and stop
    ordering, high scores reorder (bulk rows: the test is about the model, not inserts)."""
    rng = random.Random(seed)
    now = now_s()
    contacts, responses, answers, events = [], [], [], []
    for i in range(CONTACTS):
        contact_id, response_id = new_id(), new_id()
        at = now - timedelta(days=230 - i * 200 / CONTACTS)
        score = rng.randint(0, 10)
        delivery = rng.randint(1, 5)
        contacts.append({"id": contact_id, "org_id": org_id, "external_id": f"C{i}",
                         "attributes": {}, "tags": [], "created_at": at, "updated_at": at})
        responses.append({"id": response_id, "org_id": org_id, "survey_id": survey_id,
                          "contact_id": contact_id, "score": score,
                          "category": category_of(score), "comment": "", "language": "en",
                          "channel": "api", "status": "complete", "contact_attributes": {},
                          "submitted_at": at, "created_at": at})
        answers.append({"id": new_id(), "org_id": org_id, "response_id": response_id,
                        "question_key": "delivery", "kind": "driver_rating",
                        "number_value": float(delivery)})
        churn = 0.85 if score <= 6 else (0.45 if score <= 8 else 0.12)
        if delivery <= 2:
            churn = min(0.95, churn + 0.1)
        if rng.random() < churn:
            events.append(_event(org_id, contact_id, "subscription_cancelled",
                                 at + timedelta(days=rng.uniform(1, 25))))
        elif rng.random() < (0.9 if score >= 9 else 0.6):
            events.append(_event(org_id, contact_id, "order_placed",
                                 at + timedelta(days=rng.uniform(1, 25)), amount=100))
        if rng.random() < 0.5:  # history before the answer
            events.append(_event(org_id, contact_id, "order_placed",
                                 at - timedelta(days=rng.uniform(1, 80)), amount=60))
    for table, rows in ((Contact.__table__, contacts), (Response.__table__, responses),
                        (ResponseAnswer.__table__, answers), (Event.__table__, events)):
        db.execute(insert(table), rows)
    db.flush()


def _event(org_id, contact_id, name, at, **properties):
    return {"id": new_id(), "org_id": org_id, "contact_id": contact_id, "name": name,
            "properties": properties, "occurred_at": at.replace(microsecond=0),
            "event_key": None, "source": "test", "created_at": at}


def test_fit_scores_and_tenancy(client, db, org, make_org, survey):
    plant(db, org.org_id, survey["id"])
    fitted = client.post("/api/v1/outcomes/model/fit", headers=org.headers, json={})
    assert fitted.status_code == 200, fitted.text
    result = fitted.json()
    assert result["contacts_scored"] == CONTACTS
    churn, repurchase = result["models"]["churn"], result["models"]["repurchase"]
    assert churn["holdout_auc"] > 0.7 and repurchase["holdout_auc"] > 0.65
    assert churn["n_train"] + churn["n_holdout"] > 250
    top = [c["feature"] for c in churn["top_coefficients"][:3]]
    assert {"score", "detractor", "promoter"} & set(top)
    card = client.get("/api/v1/outcomes/model", headers=org.headers).json()["models"]
    assert card["churn"]["id"] == churn["id"] and card["churn"]["event"] == \
        "subscription_cancelled"
    scores = client.get("/api/v1/outcomes/scores", headers=org.headers,
                        params={"category": "detractor", "limit": 500}).json()["items"]
    risks = [s["churn_risk"] for s in scores]
    assert risks == sorted(risks, reverse=True) and {s["category"] for s in scores} == {
        "detractor"}
    promoters = client.get("/api/v1/outcomes/scores", headers=org.headers,
                           params={"category": "promoter", "limit": 500}).json()["items"]
    mean = sum(risks) / len(risks)
    assert mean > sum(s["churn_risk"] for s in promoters) / len(promoters) + 0.2

    other = make_org("Other")
    assert client.get("/api/v1/outcomes/model", headers=other.headers).json() == {
        "models": {"churn": None, "repurchase": None}}
    assert client.get("/api/v1/outcomes/scores", headers=other.headers).json()["items"] == []
    too_little = client.post("/api/v1/outcomes/model/fit", headers=other.headers)
    assert too_little.status_code == 409 and too_little.json()["detail"][0]["loc"][-1] == \
        "model"
    assert db.query(ContactScore).filter_by(org_id=other.org_id).count() == 0
    for params in ({"category": "vip"}, {"min_risk": 2}, {"limit": 0}):
        bad = client.get("/api/v1/outcomes/scores", headers=org.headers, params=params)
        assert bad.status_code == 422, params
    refit = client.post("/api/v1/outcomes/model/fit", headers=org.headers,
                        json={"window_days": 0})
    assert refit.status_code == 422


def test_worker_refits_only_stale_models(db, db_factory, org, make_org, survey):
    from npsloop.outcomes import clock
    from npsloop.outcomes.models import PropensityModel

    plant(db, org.org_id, survey["id"], seed=9)
    idle = make_org("Idle")
    assert clock.refit(db_factory, org_id=idle.org_id, only_stale=False)[0]["error"].startswith(
        "model:")
    assert clock.refit(db_factory, org_id="nope")[0]["error"] == "no such organisation"
    first = clock.refit(db_factory, org_id=org.org_id, only_stale=False)
    assert first[0]["contacts_scored"] == CONTACTS and first[0]["holdout_auc"]["churn"] > 0.7
    assert clock.refit(db_factory) == []  # fresh models: nothing to do
    for row in db.query(PropensityModel).filter_by(org_id=org.org_id):
        row.fitted_at = row.fitted_at - clock.REFIT_AFTER - timedelta(minutes=1)
    db.flush()
    assert clock.stale_orgs(db) == [org.org_id]
    again = clock.refit(db_factory)
    assert [r["org_id"] for r in again] == [org.org_id]
    assert db.query(PropensityModel).filter_by(org_id=org.org_id).count() == 4
