"""The /text page and the topic editor: rendering, escaping, highlights, forms with CSRF."""

import re
from urllib.parse import urlencode

from npsloop.core import outbox
from npsloop.registry import import_handlers

import_handlers()
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def post_form(client, url, fields, **kwargs):
    return client.post(url, content=urlencode(fields).encode(),
                       headers={"Content-Type": "application/x-www-form-urlencoded"}, **kwargs)


def login(client, org):
    r = post_form(client, "/login", {"email": org.owner_email, "password": org.password},
                  follow_redirects=False)
    assert r.status_code == 303, r.text


def test_text_page_shows_topics_cloud_and_escaped_highlights(client, org, survey, db_factory):
    for score, comment in ((1, "快递太慢了 <script>alert(1)</script>"),
                           (9, "Love the app, fast delivery"), (4, "Disappointing, app crashed")):
        r = client.post(f"/api/v1/surveys/{survey['id']}/responses", headers=org.headers,
                        json={"score": score, "comment": comment})
        assert r.status_code == 201
    while outbox.run_once(db_factory):
        pass
    login(client, org)
    page = client.get("/text?lang=en")
    assert page.status_code == 200
    html = page.text
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<mark>快递太慢</mark>" in html  # adjacent marks (快递, 太慢) merge
    # "app" is marked as a word, never inside "Disappointing"
    assert "Dis<mark>app</mark>ointing" not in html
    assert "Disappointing, <mark>app</mark> <mark>crashed</mark>" in html
    assert 'id="text-data"' in html and "/static/js/textmining.js" in html
    assert "Delivery" in html  # topic table row
    filtered = client.get("/text", params={"sentiment": "positive", "lang": "en"})
    assert "Love the <mark>app</mark>" in filtered.text and "太慢了" not in filtered.text
    bad = client.get("/text", params={"from": "not-a-date", "lang": "en"})
    assert bad.status_code == 200 and "Filter not applied" in bad.text


def test_topic_editor_creates_and_deletes_with_csrf(client, org):
    login(client, org)
    page = client.get("/text/topics?lang=zh-CN")
    assert page.status_code == 200 and "配送物流" in page.text
    token = CSRF.search(page.text).group(1)
    fields = {"csrf_token": token, "key": "invoice", "name_zh": "发票", "name_en": "Invoice",
              "keywords_zh": "发票，开票", "keywords_en": "invoice, receipt",
              "synonyms": "invoice: fapiao", "parent_id": ""}
    assert post_form(client, "/text/topics", {**fields, "csrf_token": "forged"}).status_code == 403
    saved = post_form(client, "/text/topics", fields, follow_redirects=False)
    assert saved.status_code == 303 and "saved=topic" in saved.headers["location"]
    topics = {t["key"]: t for t in client.get("/api/v1/text/topics", headers=org.headers).json()}
    assert topics["invoice"]["keywords"] == {"zh": ["发票", "开票"], "en": ["invoice", "receipt"]}
    assert topics["invoice"]["synonyms"] == {"invoice": ["fapiao"]}
    again = post_form(client, "/text/topics", fields, follow_redirects=False)
    assert "error=" in again.headers["location"]
    gone = post_form(client, f"/text/topics/{topics['invoice']['id']}/delete",
                     {"csrf_token": token}, follow_redirects=False)
    assert gone.status_code == 303
    keys = {t["key"] for t in client.get("/api/v1/text/topics", headers=org.headers).json()}
    assert "invoice" not in keys


def test_text_pages_require_login(client):
    r = client.get("/text", follow_redirects=False)
    assert r.status_code in (302, 303) and "/login" in r.headers["location"]
