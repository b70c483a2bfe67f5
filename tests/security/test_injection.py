"""Names and comments carrying HTML, script, SQL, markdown and template syntax stay inert:
in every page (generated from the route table), in exports, e-mails and chat messages."""

from __future__ import annotations

import csv
import io
import json
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from npsloop.notify.base import Notice, Outgoing
from npsloop.notify.channels.dingtalk import DingTalkNotifier
from npsloop.notify.channels.email import html_body
from npsloop.notify.channels.feishu import FeishuNotifier
from npsloop.notify.channels.wecom import WeComNotifier
from npsloop.notify.notices import render_notice
from tests.security.conftest import login_session
from tests.security.routes import fill, route_table
from tests.security.world import World

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"
SQL = "'--;DROP TABLE s"
TEMPLATE = "{{7*7}}"
HOSTILE = f"{SCRIPT}{IMG}{SQL} **m** [x](http://e) {TEMPLATE} @all"  # fits a 120-char name
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"


class _ActiveMarkup(HTMLParser):
    """Collects what a browser would run: on* attributes and executable script blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.active: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        self.active += [f"<{tag} {name}=...>" for name in names if name.startswith("on")]
        # A script carrying the response's CSP nonce is the server's own (the widget test
        # page); injected markup cannot know the nonce, and the browser would not run it.
        self._in_script = tag == "script" and "src" not in names and "nonce" not in names \
            and not (names.get("type") or "").startswith("application/json")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.active.append(f"<script>{data[:60]}")


def active_markup(html: str) -> list[str]:
    parser = _ActiveMarkup()
    parser.feed(html)
    return parser.active


def test_every_page_shows_hostile_names_as_text(app, client, db, org):
    world = World(client, db, org.headers, HOSTILE)
    session = login_session(app, db, org.owner_email)
    pages = [r for r in route_table(app) if r.method == "GET" and not r.is_api
             and not r.path.endswith(".png") and r.path != "/referral-invite/{token}/{response_id}"]
    escaped_on = []
    for route in pages:
        path = fill(route.path, {p: world.get(p) for p in route.params})
        with TestClient(app, cookies=session.cookies if route.authenticated else None) as c:
            page = c.get(path, follow_redirects=False)
        assert page.status_code < 500, (route.id, page.status_code)
        html = page.text
        assert SCRIPT not in html and IMG not in html, route.id
        if page.headers.get("content-type", "").startswith("text/html"):
            # Scripts and CSS served as files are not markup a browser would parse.
            assert not active_markup(html), (route.id, active_markup(html))
        if ESCAPED_SCRIPT in html:
            escaped_on.append(route.id)
            assert TEMPLATE in html  # stored text is never evaluated as a template
    print(f"\ninjection: {len(pages)} pages rendered, hostile text shown escaped on "
          f"{len(escaped_on)}")
    # The names are really on the pages (the test would prove nothing otherwise).
    for expected in ("GET /surveys", "GET /surveys/{survey_id}", "GET /tickets/{ticket_id}",
                     "GET /contacts", "GET /plans/{plan_id}"):
        assert expected in escaped_on, (expected, escaped_on)


def test_sql_fragments_are_stored_verbatim(client, org):
    created = client.post("/api/v1/surveys", headers=org.headers, json={"name": HOSTILE})
    assert created.status_code == 201
    fetched = client.get(f"/api/v1/surveys/{created.json()['id']}", headers=org.headers)
    assert fetched.json()["name"] == HOSTILE
    assert client.get("/api/v1/surveys", headers=org.headers).json()["total"] == 1


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-2+3", "@SUM(A1)", "=HYPERLINK(\"http://x\")"])
def test_response_export_neutralises_formulas(client, org, survey, cell):
    client.post(f"/api/v1/surveys/{survey['id']}/responses", headers=org.headers,
                json={"score": 3, "comment": cell,
                      "contact": {"external_id": "C-1", "attributes": {"note": cell}}})
    response = client.get("/api/v1/exports/responses", headers=org.headers,
                          params={"format": "csv"})
    row = next(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert row["comment"] == "'" + cell and row["attr:note"] == "'" + cell


def test_contact_import_error_report_neutralises_formulas(client, org):
    body = "external_id,email\n=cmd|' /C calc'!A0,@SUM(A1)\n"
    job = client.post("/api/v1/contacts/import", headers=org.headers, data={"mode": "valid_only"},
                      files={"file": ("c.csv", body.encode(), "text/csv")}).json()["job"]
    report = client.get(f"/api/v1/contact-imports/{job['id']}/errors.csv",
                        headers=org.headers)
    rows = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))[1:]
    assert rows, report.text
    cells = [cell for row in rows for cell in row]
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@"))], rows


NOTICE = render_notice("ticket.created", "zh-CN",
                       {"priority": "P1", "subject": HOSTILE, "owner": HOSTILE, "score": 2,
                        "team": "<at user_id=\"all\">所有人</at> @所有人 @全体成员"},
                       quote=HOSTILE, link="/tickets/7", base_url="https://nps.example")
CHAT = [
    (DingTalkNotifier, {"webhook_url": "https://oapi.dingtalk.com/robot/send?access_token=x"}),
    (WeComNotifier, {"webhook_url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"}),
    (FeishuNotifier, {"webhook_url": "https://open.feishu.cn/open-apis/bot/v2/hook/x"}),
]


def _markdown_parts(body: object) -> list[str]:
    """Every string the vendor renders as markdown (plain_text parts are shown as is)."""
    found: list[str] = []
    if isinstance(body, dict):
        if body.get("tag") == "plain_text":
            return found
        for key, value in body.items():
            if isinstance(value, str) and key in ("text", "content"):
                found.append(value)
            else:
                found += _markdown_parts(value)
    elif isinstance(body, list):
        for item in body:
            found += _markdown_parts(item)
    return found


@pytest.mark.parametrize(("notifier", "config"), CHAT, ids=["dingtalk", "wecom", "feishu"])
def test_chat_messages_cannot_mention_everyone_or_inject_markup(notifier, config):
    body = notifier(notifier.parse_config(config)).body(Outgoing(id="1", notice=NOTICE))
    wire = json.dumps(body, ensure_ascii=False)
    for mention in ("@all", "@所有人", "@全体成员", "<at ", '"isAtAll": true'):
        assert mention not in wire, (mention, wire)
    markdown = _markdown_parts(body)
    assert markdown
    for text in markdown:
        assert "[x](http" not in text and "<script" not in text and "**m**" not in text, text


def test_email_html_escapes_user_text():
    html = html_body(Notice(title=HOSTILE, quote=HOSTILE, text="ok"))
    assert SCRIPT not in html and IMG not in html
    assert ESCAPED_SCRIPT in html
