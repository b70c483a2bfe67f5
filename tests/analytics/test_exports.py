"""Response exports: one column per driver, choice and attribute; formula injection
neutralised; UTF-8 with BOM; XLSX readable; filters and organisations respected."""

import csv
import io
from datetime import UTC, datetime

from openpyxl import load_workbook

from npsloop.analytics import exports
from tests.analytics.helpers import add_contact, add_response

AT = datetime(2026, 3, 1, 16, 30, tzinfo=UTC)  # 2 March 00:30 in Shanghai


def _seed(db, org, survey):
    vip = add_contact(db, org.org_id, tags=["vip", "=cmd"], lifecycle_stage="retention",
                      attributes={"city": "上海", "plan": "pro"})
    add_response(db, org.org_id, survey["id"], 9, contact=vip, at=AT, channel="email",
                 comment="=HYPERLINK(\"http://evil\")", drivers={"price": 4, "delivery": 5},
                 attributes={"city": "上海", "plan": "pro", "note": "@SUM(A1)"})
    add_response(db, org.org_id, survey["id"], 3, at=AT.replace(day=5), comment="送货太慢了",
                 drivers={"price": 2}, attributes={"city": "北京"})
    add_response(db, org.org_id, survey["id"], 7, at=AT.replace(day=6), channel="sms",
                 comment="-1+2")
    db.commit()


def _csv(client, org, **params):
    response = client.get("/api/v1/exports/responses", headers=org.headers,
                          params={"format": "csv", **params})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_csv_columns_values_and_injection(client, db, org, survey):
    _seed(db, org, survey)
    rows = _csv(client, org)
    assert len(rows) == 3
    first = rows[0]
    assert list(first)[:3] == ["response_id", "survey", "submitted_at"]
    assert {"driver:price", "driver:delivery", "attr:city", "attr:plan", "attr:note"} <= set(
        first)
    assert first["submitted_at"] == "2026-03-02T00:30:00+08:00"
    assert (first["score"], first["category"], first["channel"]) == ("9", "promoter", "email")
    assert (first["driver:price"], first["driver:delivery"]) == ("4", "5")
    assert first["comment"] == "'=HYPERLINK(\"http://evil\")"
    assert first["attr:note"] == "'@SUM(A1)"
    assert first["tags"] == "vip; =cmd"  # joined text does not start with '='
    assert (first["lifecycle_stage"], first["attr:city"]) == ("retention", "上海")
    assert rows[1]["comment"] == "送货太慢了" and rows[1]["driver:delivery"] == ""
    assert rows[2]["comment"] == "'-1+2"
    sms = _csv(client, org, channel="sms")
    assert [r["score"] for r in sms] == ["7"]
    assert _csv(client, org, **{"attr.city": "北京"})[0]["score"] == "3"


def test_xlsx_export(client, db, org, survey):
    _seed(db, org, survey)
    response = client.get("/api/v1/exports/responses", headers=org.headers,
                          params={"format": "xlsx", "survey_id": survey["id"]})
    assert response.status_code == 200, response.text
    sheet = load_workbook(io.BytesIO(response.content), read_only=True)["responses"]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    header = rows[0]
    rows = [row + [None] * (len(header) - len(row)) for row in rows]  # trailing blanks
    assert len(rows) == 4
    first = dict(zip(header, rows[1], strict=True))
    assert first["score"] == 9 and first["driver:price"] == 4
    # Stored as text, not as a formula.
    assert first["comment"] == "'=HYPERLINK(\"http://evil\")"
    assert dict(zip(header, rows[2], strict=True))["comment"] == "送货太慢了"


def test_choices_and_contributed_fields(client, db, org):
    texts = {"en": {"text": "Why?"}}
    body = {"name": "Choices", "status": "live", "questions": [
        {"kind": "nps", "key": "nps", "required": True, "texts": {"en": {"text": "Score?"}}},
        {"kind": "driver_rating", "key": "price", "texts": texts},
        {"kind": "multiple_choice", "key": "reasons", "texts": texts,
         "options": [{"key": "slow", "labels": {"en": "Slow"}},
                     {"key": "price", "labels": {"en": "Price"}}]}]}
    created = client.post("/api/v1/surveys", json=body, headers=org.headers)
    assert created.status_code == 201, created.text
    survey = created.json()
    add_response(db, org.org_id, survey["id"], 4, at=AT,
                 choices={"reasons": ["slow", "price"]})
    db.commit()

    class Priority:
        COLUMNS = ["crm:priority"]

        @staticmethod
        def export_values(session, *, org_id, response_ids):
            return {rid: {"crm:priority": "high"} for rid in response_ids}

    exports.register_export_fields(Priority)
    try:
        plan = exports.layout(db, org_id=org.org_id,
                              filters=exports.Filters(survey_id=survey["id"]))
        assert plan.extra[-1] == "crm:priority"
        rows = list(exports.iter_rows(db, org_id=org.org_id, tz="UTC", plan=plan,
                                      filters=exports.Filters(survey_id=survey["id"])))
    finally:
        exports._registered.remove(Priority)
    header, row = rows[0], dict(zip(rows[0], rows[1], strict=True))
    assert header[-1] == "crm:priority" and row["crm:priority"] == "high"
    assert [h for h in header if h.startswith(("choice:", "driver:"))] == [
        "driver:price", "choice:reasons"]
    assert row["choice:reasons"] == "slow; price" and row["driver:price"] is None


def test_csv_streams_in_chunks():
    rows = iter([["a"], *[[i] for i in range(2500)]])
    chunks = list(exports.csv_chunks(rows, rows_per_chunk=1000))
    assert len(chunks) == 3
    assert chunks[0].startswith(b"\xef\xbb\xbf") and not chunks[1].startswith(b"\xef")


def test_bad_format_and_permissions(client, org, survey):
    response = client.get("/api/v1/exports/responses", headers=org.headers,
                          params={"format": "json"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "format"]
    assert client.get("/api/v1/exports/responses").status_code == 401


def test_text_analysis_columns(client, db, org, survey):
    from npsloop.textmining.models import ResponseTextAnalysis, ResponseTextTopic, TextTopic

    analysed = add_response(db, org.org_id, survey["id"], 2, at=AT, comment="送货太慢")
    add_response(db, org.org_id, survey["id"], 9, at=AT.replace(day=3))
    db.flush()
    topics = [TextTopic(org_id=org.org_id, key=key, name_zh=key, name_en=key)
              for key in ("delivery", "speed")]
    db.add_all(topics)
    db.flush()
    db.add(ResponseTextAnalysis(
        response_id=analysed.id, org_id=org.org_id, language="zh", sentiment_score=-0.8,
        sentiment_label="negative", keywords=["送货", "慢"], terms=[], topic_hits={},
        comment_hash="x", model_version="test"))
    db.add_all([ResponseTextTopic(response_id=analysed.id, topic_id=t.id, org_id=org.org_id)
                for t in topics])
    db.commit()
    rows = _csv(client, org)
    assert (rows[0]["text:sentiment"], rows[0]["text:sentiment_score"]) == ("negative", "-0.8")
    assert rows[0]["text:keywords"] == "送货; 慢"
    assert rows[0]["text:topics"] == "delivery; speed"
    assert rows[1]["text:sentiment"] == "" and rows[1]["text:topics"] == ""
