"""Public survey page /s/{token}: languages, states, partial-then-complete, no-JS form posts,
validation that names the field, idempotent re-submits and the channel from ?ch=."""

from __future__ import annotations

import re
import uuid

import pytest
from markupsafe import escape

from npsloop.surveys import defaults

ZH_NPS = "您有多大可能向朋友或同事推荐我们?"
EN_NPS = "How likely are you to recommend us to a friend or colleague?"


def token_of(survey: dict) -> str:
    return survey["public_url"].rsplit("/s/", 1)[1]


def make_survey(client, org, **fields) -> dict:
    body = {"name": "Public page", "status": "live", "drivers": ["price", "delivery"], **fields}
    response = client.post("/api/v1/surveys", json=body, headers=org.headers)
    assert response.status_code == 201, response.text
    return response.json()


def responses_of(client, org, survey: dict) -> list[dict]:
    listed = client.get(f"/api/v1/surveys/{survey['id']}/responses", headers=org.headers)
    assert listed.status_code == 200, listed.text
    return listed.json()["items"]


def post_json(client, survey: dict, body: dict):
    return client.post(f"/s/{token_of(survey)}/responses", json=body)


def post_form(client, survey: dict, data: dict):
    return client.post(f"/s/{token_of(survey)}/responses", data=data, follow_redirects=False)


def new_key() -> str:
    return str(uuid.uuid4())


@pytest.mark.parametrize(
    ("lang", "nps_text", "low", "high", "submit"),
    [
        ("zh-CN", ZH_NPS, "不可能", "极有可能", "提交"),
        ("en", EN_NPS, "Not at all likely", "Extremely likely", "Submit"),
    ],
)
def test_page_renders_in_the_language_of_the_query(client, survey, lang, nps_text, low, high,
                                                   submit):
    page = client.get(f"/s/{token_of(survey)}", params={"lang": lang})
    assert page.status_code == 200
    html = page.text
    assert f'<html lang="{lang}">' in html
    assert nps_text in html and low in html and high in html and submit in html
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    scores = re.findall(r'name="score" value="(\d+)"', html)
    assert scores == [str(n) for n in range(11)]
    assert re.search(r'name="idempotency_key" value="[0-9a-f]{32}"', html)
    # CSP allows no inline scripts: every script is a file or a JSON data block.
    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert "/static/js/survey.js" in html and "/static/css/survey.css" in html
    # Category follow-ups are all present for the page to reveal the right one.
    for text in defaults.FOLLOWUP_TEXT[lang].values():
        assert str(escape(text)) in html


@pytest.mark.parametrize(
    ("header", "expected"),
    [("en-US,en;q=0.9", "en"), ("fr-FR, zh;q=0.5, en;q=0.3", "zh-CN"),
     ("zh-TW", "zh-CN"), ("fr", "zh-CN"), ("de;q=1, en;q=0", "zh-CN")],
)
def test_page_language_from_accept_language(client, survey, header, expected):
    page = client.get(f"/s/{token_of(survey)}", headers={"Accept-Language": header})
    assert f'<html lang="{expected}">' in page.text


def test_language_is_limited_to_the_survey_languages(client, org):
    survey = make_survey(client, org, languages=["en"], default_language="en")
    page = client.get(f"/s/{token_of(survey)}", params={"lang": "zh-CN"},
                      headers={"Accept-Language": "zh-CN"})
    assert '<html lang="en">' in page.text
    assert EN_NPS in page.text
    assert "sv-lang" not in page.text  # one language: no switch
    reply = post_json(client, survey, {"score": 8, "language": "zh-CN"})
    assert reply.status_code == 422
    assert reply.json()["field"] == "language"


def test_unknown_and_draft_tokens_get_the_same_404(client, org):
    draft = make_survey(client, org, status="draft")
    unknown = client.get("/s/0123456789abcdef0123456789abcdef?lang=en")
    drafted = client.get(f"/s/{token_of(draft)}?lang=en")
    assert unknown.status_code == drafted.status_code == 404
    assert unknown.text == drafted.text
    assert "Survey not found" in unknown.text and "<form" not in unknown.text
    assert client.get(f"/s/{'x' * 300}").status_code == 404
    assert post_json(client, draft, {"score": 5}).status_code == 404
    assert client.get(f"/s/{token_of(draft)}/thanks").status_code == 404


@pytest.mark.parametrize("state", ["paused", "closed"])
def test_paused_or_closed_survey_shows_no_form(client, org, survey, state):
    changed = client.patch(f"/api/v1/surveys/{survey['id']}", json={"status": state},
                           headers=org.headers)
    assert changed.status_code == 200, changed.text
    page = client.get(f"/s/{token_of(survey)}?lang=zh-CN")
    assert page.status_code == 410
    assert "本次调查已结束" in page.text
    assert "<form" not in page.text and 'name="score"' not in page.text
    reply = post_json(client, survey, {"score": 9, "idempotency_key": new_key()})
    assert reply.status_code == 410
    form = post_form(client, survey, {"score": "9", "lang": "en"})
    assert form.status_code == 410 and "This survey is closed" in form.text
    assert responses_of(client, org, survey) == []


def test_json_partial_then_complete_is_one_response(client, org, survey):
    key = new_key()
    partial = post_json(client, survey, {"score": 3, "status": "partial", "idempotency_key": key,
                                         "language": "en", "channel": "qr"})
    assert partial.status_code == 201, partial.text
    assert partial.json()["status"] == "partial"
    saved = responses_of(client, org, survey)
    assert [(r["score"], r["status"], r["category"]) for r in saved] == [(3, "partial",
                                                                          "detractor")]
    # The respondent changes their mind, then submits the follow-up.
    assert post_json(client, survey, {"score": 4, "status": "partial",
                                      "idempotency_key": key}).status_code == 200
    done = post_json(client, survey, {
        "score": 4, "comment": "  Late again  ", "drivers": {"delivery": 1},
        "idempotency_key": key, "language": "en", "channel": "qr"})
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["status"] == "complete" and body["created"] is False
    assert body["thanks_url"] == f"/s/{token_of(survey)}/thanks?lang=en&r={body['id']}"
    saved = responses_of(client, org, survey)
    assert len(saved) == 1
    only = saved[0]
    assert (only["score"], only["status"], only["comment"], only["channel"]) == (
        4, "complete", "Late again", "qr")
    assert {a["question_key"]: a["number_value"] for a in only["answers"]} == {"delivery": 1.0}


def test_form_post_without_js_works_and_redirects(client, org, survey):
    key = uuid.uuid4().hex
    reply = post_form(client, survey, {
        "score": "10", "comment": "物流很快", "driver_price": "4", "driver_delivery": "",
        "lang": "zh-CN", "ch": "sms", "idempotency_key": key})
    assert reply.status_code == 303, reply.text
    location = reply.headers["location"]
    assert location.startswith(f"/s/{token_of(survey)}/thanks?lang=zh-CN&r=")
    saved = responses_of(client, org, survey)
    assert len(saved) == 1
    only = saved[0]
    assert (only["score"], only["category"], only["comment"], only["channel"],
            only["language"], only["status"], only["idempotency_key"]) == (
        10, "promoter", "物流很快", "sms", "zh-CN", "complete", key)
    assert {a["question_key"]: a["number_value"] for a in only["answers"]} == {"price": 4.0}
    thanks = client.get(location)
    assert thanks.status_code == 200
    assert "感谢您的反馈" in thanks.text and "很高兴您愿意推荐我们" in thanks.text
    assert thanks.headers["cache-control"] == "no-store"
    generic = client.get(f"/s/{token_of(survey)}/thanks?lang=en&r=nope")
    assert "We have received your answers" in generic.text


@pytest.mark.parametrize(("score", "reason"), [
    (11, "less than or equal to 10"), (-1, "greater than or equal to 0"),
    ("abc", "valid integer"), (7.5, "valid integer"), (None, "Field required")])
def test_invalid_score_is_422_naming_the_field(client, org, survey, score, reason):
    body = {"idempotency_key": new_key(), "language": "en"}
    if score is not None:
        body["score"] = score
    reply = post_json(client, survey, body)
    assert reply.status_code == 422, reply.text
    data = reply.json()
    assert data["field"] == "score"
    assert data["detail"][0]["loc"] == ["body", "score"]
    assert reason in data["detail"][0]["msg"]
    assert data["message"] == "Please choose a score from 0 to 10."
    assert responses_of(client, org, survey) == []


def test_form_post_with_bad_input_rerenders_the_form_in_the_users_language(client, org,
                                                                             survey):
    reply = post_form(client, survey, {"comment": "没有打分", "lang": "zh-CN", "ch": "qr",
                                       "idempotency_key": "k" * 16})
    assert reply.status_code == 422
    assert "请选择 0 到 10 之间的分数。" in reply.text
    assert "<form" in reply.text and "没有打分</textarea>" in reply.text
    assert 'name="ch" value="qr"' in reply.text
    assert 'name="idempotency_key" value="kkkkkkkkkkkkkkkk"' in reply.text
    long = post_form(client, survey, {"score": "8", "comment": "x" * 5001, "lang": "en"})
    assert long.status_code == 422
    assert "Please keep your comment under 5000 characters." in long.text
    assert 'value="8" data-cat="passive" checked' in long.text
    assert responses_of(client, org, survey) == []


def test_comment_length_and_unknown_drivers_are_rejected_clearly(client, survey):
    too_long = post_json(client, survey, {"score": 5, "comment": "长" * 5001})
    assert too_long.status_code == 422
    assert too_long.json()["field"] == "comment"
    assert post_json(client, survey, {"score": 5, "comment": "长" * 5000}).status_code == 201
    unknown = post_json(client, survey, {"score": 5, "drivers": {"speed": 3}, "language": "en"})
    assert unknown.status_code == 422
    data = unknown.json()
    assert data["field"] == "drivers.speed"
    assert data["detail"][0]["loc"] == ["body", "drivers", "speed"]
    assert "unknown driver" in data["detail"][0]["msg"] and "price" in data["detail"][0]["msg"]
    assert data["message"] == "This question is not part of the survey."
    rating = post_json(client, survey, {"score": 5, "drivers": {"price": 9}})
    assert rating.status_code == 422 and rating.json()["field"] == "drivers.price"


@pytest.mark.parametrize("extra", [{"submitted_at": "2026-01-01T00:00:00Z"},
                                   {"contact": {"external_id": "c-1"}}])
def test_public_posts_cannot_backdate_or_claim_a_contact(client, survey, extra):
    reply = post_json(client, survey, {"score": 9, **extra})
    assert reply.status_code == 422
    assert reply.json()["field"] == next(iter(extra))


def test_malformed_bodies_are_4xx_not_500(client, survey):
    url = f"/s/{token_of(survey)}/responses"
    bad_json = client.post(url, content=b"{not json", headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 422
    not_object = client.post(url, json=[1, 2])
    assert not_object.status_code == 422
    huge = client.post(url, content=b"x" * 70_000, headers={"Content-Type": "application/json"})
    assert huge.status_code == 413
    assert client.post("/s/nope/responses", json={"score": 3}).status_code == 404


def test_idempotent_resubmit_counts_once(client, org, survey):
    key = new_key()
    body = {"score": 9, "comment": "great", "idempotency_key": key}
    first = post_json(client, survey, body)
    second = post_json(client, survey, body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    # Back + resubmit through the no-JS form with the same key: still the same response.
    form = post_form(client, survey, {"score": "2", "comment": "changed", "lang": "en",
                                      "idempotency_key": key})
    assert form.status_code == 303
    assert first.json()["id"] in form.headers["location"]
    saved = responses_of(client, org, survey)
    assert len(saved) == 1 and saved[0]["score"] == 9 and saved[0]["comment"] == "great"


@pytest.mark.parametrize(("query", "expected"), [
    ("?ch=qr", "qr"), ("?ch=EMAIL", "email"), ("?ch=evil", "link"), ("?ch=api", "link"),
    ("", "link")])
def test_channel_from_the_query(client, org, survey, query, expected):
    page = client.get(f"/s/{token_of(survey)}{query}")
    client.cookies.clear()  # two respondents below, not one browser's ballot twice
    assert f'name="ch" value="{expected}"' in page.text
    assert f'"channel": "{expected}"' in page.text  # the JSON config read by survey.js
    channel = re.search(r'name="ch" value="([a-z]+)"', page.text).group(1)
    reply = post_form(client, survey, {"score": "7", "ch": channel, "lang": "en"})
    assert reply.status_code == 303
    assert responses_of(client, org, survey)[0]["channel"] == expected
    # Only known public channels: "api" (or anything else) from a public post counts as link.
    spoofed = post_json(client, survey, {"score": 7, "channel": "api"})
    assert spoofed.status_code == 201
    channels = {r["id"]: r["channel"] for r in responses_of(client, org, survey)}
    assert channels[spoofed.json()["id"]] == "link"


def test_skip_logic_hides_drops_and_requires_by_category(client, org):
    questions = defaults.default_questions(["price"]) + [{
        "kind": "single_choice", "key": "reason", "required": True,
        "show_if_categories": ["detractor"],
        "texts": {"zh-CN": {"text": "主要原因?"}, "en": {"text": "Main reason?"}},
        "options": [{"key": "late", "labels": {"zh-CN": "配送慢", "en": "Late"}},
                    {"key": "broken", "labels": {"zh-CN": "商品破损", "en": "Broken"}}],
    }]
    survey = make_survey(client, org, questions=questions)
    page = client.get(f"/s/{token_of(survey)}?lang=en")
    client.cookies.clear()  # several respondents below, not one browser's ballot
    assert 'data-choice="reason" data-show="detractor"' in page.text
    assert 'name="choice_reason" value="broken"' in page.text
    # A detractor must answer the detractor-only required question.
    missing = post_json(client, survey, {"score": 2, "language": "en"})
    assert missing.status_code == 422
    assert missing.json()["field"] == "choices.reason"
    assert missing.json()["message"] == "Please answer this question."
    # A partial save never requires the follow-up questions.
    assert post_json(client, survey, {"score": 2, "status": "partial"}).status_code == 201
    bad_option = post_json(client, survey, {"score": 2, "choices": {"reason": ["nope"]}})
    assert bad_option.status_code == 422 and bad_option.json()["field"] == "choices.reason"
    answered = post_form(client, survey, {"score": "2", "choice_reason": "late", "lang": "en"})
    assert answered.status_code == 303
    # A promoter who first answered it (then changed the score) has the answer dropped.
    promoter = post_json(client, survey, {"score": 9, "choices": {"reason": ["broken"]}})
    assert promoter.status_code == 201
    saved = {r["id"]: r for r in responses_of(client, org, survey)}
    assert saved[promoter.json()["id"]]["answers"] == []
    choices = [a["choice_values"] for r in saved.values() for a in r["answers"]]
    assert choices == [["late"]]
