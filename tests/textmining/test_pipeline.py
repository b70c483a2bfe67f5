"""Outbox analysis after ingest, reprocess idempotency, NPS impact by hand, API isolation."""

from sqlalchemy import func, select
from typer.testing import CliRunner

from npsloop.core import outbox
from npsloop.registry import import_handlers
from npsloop.responses.models import Response
from npsloop.textmining import service
from npsloop.textmining.models import ResponseTextAnalysis, ResponseTextTopic
from npsloop.textmining.stats import nps_impact

import_handlers()


def post(client, org, survey_id, score, comment="", **extra):
    body = {"score": score, "comment": comment, **extra}
    r = client.post(f"/api/v1/surveys/{survey_id}/responses", json=body, headers=org.headers)
    assert r.status_code in (200, 201), r.text
    return r.json()


def drain(db_factory):
    while outbox.run_once(db_factory):
        pass


def test_outbox_stores_analysis_for_a_comment(client, org, survey, db, db_factory):
    created = post(client, org, survey["id"], 3, "快递太慢了，客服也不回复")
    silent = post(client, org, survey["id"], 9, "")
    # Ingest itself does not analyse (it only emits the event).
    assert db.get(ResponseTextAnalysis, created["id"]) is None
    drain(db_factory)
    db.expire_all()
    row = db.get(ResponseTextAnalysis, created["id"])
    assert row is not None and row.org_id == org.org_id
    assert row.language == "zh" and row.sentiment_label == "negative"
    assert {"delivery", "customer_service"} <= set(row.topic_hits)
    linked = db.scalar(select(func.count()).select_from(ResponseTextTopic)
                       .where(ResponseTextTopic.response_id == created["id"]))
    assert linked == len(row.topic_hits)
    assert db.get(ResponseTextAnalysis, silent["id"]) is None
    # Rules subscribe to text.analysed: emitted once, with the analysis in the payload.
    analysed = db.scalars(select(outbox.OutboxEvent).where(
        outbox.OutboxEvent.org_id == org.org_id, outbox.OutboxEvent.topic == "text.analysed"
    )).all()
    assert [e.payload["response_id"] for e in analysed] == [created["id"]]
    assert analysed[0].payload["sentiment_label"] == "negative"
    assert "delivery" in analysed[0].payload["topics"]


def test_reprocess_is_idempotent(client, org, survey, db, db_factory):
    ids = [post(client, org, survey["id"], s, c)["id"] for s, c in
           ((2, "app keeps crashing"), (10, "水果很新鲜，配送很快"), (8, ""))]
    first = service.reprocess(db_factory, org_id=org.org_id, batch_size=2)
    assert (first.scanned, first.analysed, first.unchanged) == (3, 2, 0)
    db.expire_all()
    before = {r.response_id: (r.analysed_at, r.sentiment_score) for r in db.scalars(
        select(ResponseTextAnalysis).where(ResponseTextAnalysis.org_id == org.org_id))}
    again = service.reprocess(db_factory, org_id=org.org_id, batch_size=2)
    assert (again.scanned, again.analysed, again.unchanged) == (3, 0, 2)
    db.expire_all()
    after = {r.response_id: (r.analysed_at, r.sentiment_score) for r in db.scalars(
        select(ResponseTextAnalysis).where(ResponseTextAnalysis.org_id == org.org_id))}
    assert before == after and set(after) == set(ids[:2])
    # An edited comment is re-analysed; a removed one is cleared.
    response = db.get(Response, ids[0])
    response.comment = ""
    db.commit()
    third = service.reprocess(db_factory, org_id=org.org_id)
    assert third.cleared == 1
    forced = service.reprocess(db_factory, org_id=org.org_id, force=True)
    assert forced.analysed == 1


def test_reprocess_cli(tmp_path, monkeypatch):
    from npsloop.accounts.service import create_organization
    from npsloop.cli import app
    from npsloop.core.config import get_settings
    from npsloop.core.db import make_engine, make_session_factory
    from npsloop.core.migrate import upgrade
    from npsloop.surveys.models import Survey

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    factory = make_session_factory(make_engine(url))
    with factory() as session:
        org, _, _ = create_organization(session, name="CLI", admin_email="a@b.test",
                                        admin_password="password-123")
        survey = Survey(org_id=org.id, name="s", status="live")
        session.add(survey)
        session.flush()
        session.add(Response(org_id=org.id, survey_id=survey.id, score=1, category="detractor",
                             comment="价格太贵了"))
        session.commit()
    monkeypatch.setenv("NPSLOOP_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        first = runner.invoke(app, ["text", "reprocess", "--batch-size", "10"])
        second = runner.invoke(app, ["text", "reprocess"])
    finally:
        get_settings.cache_clear()
    assert first.exit_code == 0, first.output
    assert '"analysed": 1' in first.output
    assert '"analysed": 0' in second.output and '"unchanged": 1' in second.output


def test_topic_stats_and_nps_impact_by_hand(client, org, survey, db_factory):
    rows = [  # score, comment
        (0, "快递太慢了"), (3, "delivery was late again"), (9, "配送很快，很满意"),
        (7, "快递一般"), (2, "价格太贵"), (10, "great price"), (8, ""), (5, ""),
    ]
    for score, comment in rows:
        post(client, org, survey["id"], score, comment)
    drain(db_factory)
    body = client.get("/api/v1/text/topics/stats", headers=org.headers).json()
    assert body["total"] == 8
    # overall: promoters 2 (9, 10), detractors 4 (0, 3, 2, 5) -> (2 - 4) / 8 = -25
    assert body["nps"] == -25.0
    by_key = {t["topic"]["key"]: t for t in body["topics"]}
    delivery = by_key["delivery"]
    # delivery commenters: 0, 3, 9, 7 -> 2 detractors, 1 promoter, 1 passive
    assert (delivery["n"], delivery["detractors"], delivery["promoters"]) == (4, 2, 1)
    assert delivery["nps"] == -25.0
    assert delivery["detractor_share"] == 0.5
    # 2 detractors become passives: NPS (2 - 2) / 8 = 0, a gain of 25 points
    assert delivery["nps_impact"] == 25.0 == nps_impact(2, 8)
    assert by_key["price"]["nps_impact"] == 12.5
    assert delivery["avg_sentiment"] is not None and delivery["trend"]
    assert by_key["freshness"]["n"] == 0 and by_key["freshness"]["nps_impact"] == 0.0


def test_explorer_filters_and_highlights(client, org, survey, db_factory):
    post(client, org, survey["id"], 1, "快递太慢了，包装也破损了")
    post(client, org, survey["id"], 10, "Great app, love the coupons")
    drain(db_factory)
    h = org.headers
    topics = {t["key"]: t["id"] for t in client.get("/api/v1/text/topics", headers=h).json()}
    page = client.get("/api/v1/text/comments", params={"topic_id": topics["packaging"]},
                      headers=h).json()
    assert page["total"] == 1
    item = page["items"][0]
    assert item["comment"].startswith("快递")
    marked = {item["comment"][a:b] for a, b in item["highlights"]}
    assert "破损" in "".join(marked) and "快递" in "".join(marked)
    neg = client.get("/api/v1/text/comments", params={"sentiment": "negative"}, headers=h)
    assert [i["score"] for i in neg.json()["items"]] == [1]
    kw = client.get("/api/v1/text/comments", params={"keyword": "COUPON"}, headers=h).json()
    assert kw["total"] == 1 and kw["items"][0]["category"] == "promoter"
    cat = client.get("/api/v1/text/comments", params={"category": "detractor"}, headers=h)
    assert cat.json()["total"] == 1
    words = client.get("/api/v1/text/keywords", headers=h).json()
    assert words["documents"] == 2 and any(k["term"] == "快递" for k in words["keywords"])
    bad = client.get("/api/v1/text/comments", params={"sentiment": "angry"}, headers=h)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "sentiment"]


def test_topic_crud_validation_and_org_isolation(client, org, make_org, role_key):
    other = make_org("Other")
    h = org.headers
    created = client.post("/api/v1/text/topics", headers=h, json={
        "key": "noise", "name_zh": "噪音", "name_en": "Noise",
        "keywords": {"zh": ["噪音", "太吵"], "en": ["noisy"]}, "synonyms": {"noisy": ["loud"]},
    })
    assert created.status_code == 201, created.text
    topic_id = created.json()["id"]
    analysed = client.post("/api/v1/text/analyse", headers=h,
                           json={"text": "The fridge is so loud"}).json()
    assert "noise" in analysed["topics"]
    dup = client.post("/api/v1/text/topics", headers=h, json={"key": "noise", "name_en": "x"})
    assert dup.status_code == 422 and dup.json()["detail"][0]["loc"] == ["body", "key"]
    bad = client.post("/api/v1/text/topics", headers=h,
                      json={"key": "x", "name_en": "x", "keywords": {"fr": ["bruit"]}})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "keywords", "fr"]
    cycle = client.patch(f"/api/v1/text/topics/{topic_id}", headers=h,
                         json={"parent_id": topic_id})
    assert cycle.status_code == 422
    # Another organisation sees none of it.
    oh = other.headers
    assert client.get(f"/api/v1/text/topics/{topic_id}", headers=oh).status_code == 404
    assert client.patch(f"/api/v1/text/topics/{topic_id}", headers=oh,
                        json={"name_en": "hijack"}).status_code == 404
    assert client.delete(f"/api/v1/text/topics/{topic_id}", headers=oh).status_code == 404
    assert client.get("/api/v1/text/comments", params={"topic_id": topic_id},
                      headers=oh).status_code == 404
    assert "noise" not in {t["key"] for t in
                           client.get("/api/v1/text/topics", headers=oh).json()}
    # Permissions: a viewer reads but cannot edit.
    viewer = role_key(org.org_id, "viewer")
    assert client.get("/api/v1/text/topics", headers=viewer).status_code == 200
    assert client.delete(f"/api/v1/text/topics/{topic_id}", headers=viewer).status_code == 403
    assert client.delete(f"/api/v1/text/topics/{topic_id}", headers=h).status_code == 204
    assert client.get(f"/api/v1/text/topics/{topic_id}", headers=h).status_code == 404


def test_vocabulary_round_trip(client, org):
    h = org.headers
    put = client.put("/api/v1/text/vocabulary", headers=h,
                     json={"custom_words": ["鲜果多多", " 鲜果多多 "], "stop_words": ["亲"]})
    assert put.status_code == 200
    assert put.json() == {"custom_words": ["鲜果多多"], "stop_words": ["亲"]}
    too_long = client.put("/api/v1/text/vocabulary", headers=h,
                          json={"custom_words": ["x" * 60]})
    assert too_long.status_code == 422


def test_discover_suggests_clusters_of_unmatched_comments(client, org, survey, db_factory):
    themes = {
        "invoice": ["发票一直开不出来", "能不能开电子发票", "发票抬头填错了没法改",
                    "I need a VAT invoice for my company", "Where can I download the invoice?"],
        "parking": ["门店停车太难了", "停车位太少了", "附近没有停车位",
                    "Parking near the store is impossible", "No parking spaces on weekends"],
    }
    for comments in themes.values():
        for comment in comments:
            post(client, org, survey["id"], 5, comment)
    post(client, org, survey["id"], 2, "快递太慢了")  # matches a topic: not a candidate
    drain(db_factory)
    result = client.post("/api/v1/text/topics/discover", headers=org.headers)
    assert result.status_code == 200, result.text
    body = result.json()
    assert body["comments"] == 10
    groups = [set(c["examples"]) for c in body["clusters"]]
    assert any(g <= set(themes["invoice"]) for g in groups)
    assert any(g <= set(themes["parking"]) for g in groups)
    invoice = next(c for c in body["clusters"] if set(c["examples"]) <= set(themes["invoice"]))
    assert "发票" in invoice["keywords"]["zh"] or "invoice" in invoice["keywords"]["en"]
    adopted = client.post("/api/v1/text/topics", headers=org.headers, json={
        "key": "invoice", "name_zh": "发票", "name_en": "Invoice",
        "keywords": invoice["keywords"], "discovered": True})
    assert adopted.status_code == 201 and adopted.json()["source"] == "discovered"
