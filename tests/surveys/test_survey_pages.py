"""Survey list, editor and share pages: forms, validation, roles, tenancy, QR, both languages.

The editor is driven like a browser without JavaScript would: the page's own form is parsed,
changed and posted back, so what the page renders is what the tests submit.
"""

from __future__ import annotations

import html as html_module
import re
import struct
import zlib
from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest
import qrcode
from sqlalchemy import select

from npsloop.accounts.models import AuditLog
from npsloop.core.i18n import catalogs

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


# --- helpers ----------------------------------------------------------------------------


def post_form(client, url: str, fields, **kwargs):
    """Posts fields in order (repeated names such as `q` carry the rows' order)."""
    items = list(fields.items()) if isinstance(fields, dict) else list(fields)
    return client.post(url, content=urlencode(items).encode(),
                       headers={"Content-Type": "application/x-www-form-urlencoded"}, **kwargs)


def login(client, email: str, password: str = "password-123") -> None:
    response = post_form(client, "/login", {"email": email, "password": password},
                           follow_redirects=False)
    assert response.status_code == 303, response.text


class FormReader(HTMLParser):
    """The fields the editor form would submit: checked boxes, selected options, textareas;
    never the blank rows inside <template> (a browser does not submit those either)."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self._in_template = 0
        self._select: str | None = None
        self._select_first: str | None = None
        self._select_chosen = False
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "template":
            self._in_template += 1
        if self._in_template or "disabled" in a:
            return
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields.append((name, a.get("value", "")))
        elif tag == "select" and name:
            self._select, self._select_first, self._select_chosen = name, None, False
        elif tag == "option" and self._select:
            value = a.get("value", "")
            if self._select_first is None and "disabled" not in a:
                self._select_first = value
            if "selected" in a:
                self.fields.append((self._select, value))
                self._select_chosen = True
        elif tag == "textarea" and name:
            self._textarea, self._text = name, ""

    def handle_endtag(self, tag):
        if tag == "template":
            self._in_template -= 1
        elif tag == "select" and self._select:
            if not self._select_chosen and self._select_first is not None:
                self.fields.append((self._select, self._select_first))
            self._select = None
        elif tag == "textarea" and self._textarea:
            self.fields.append((self._textarea, self._text))
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self._text += data


def form_fields(html: str) -> list[tuple[str, str]]:
    start = html.index('<form method="post" action="/surveys')
    reader = FormReader()
    reader.feed(html[start:])
    return reader.fields


def replace(fields, name, value):
    return [(n, value if n == name else v) for n, v in fields]


def without(fields, name):
    return [(n, v) for n, v in fields if n != name]


def row_uids(fields) -> list[str]:
    return [v for n, v in fields if n == "q"]


def row_of_key(fields, key) -> str:
    return next(n.split(".")[1] for n, v in fields if n.endswith(".key") and v == key
                and n.count(".") == 2)


def api_survey(client, org, survey_id):
    response = client.get(f"/api/v1/surveys/{survey_id}", headers=org.headers)
    assert response.status_code == 200, response.text
    return response.json()


def new_form(client, lang="en") -> list[tuple[str, str]]:
    page = client.get(f"/surveys/new?lang={lang}")
    assert page.status_code == 200, page.text
    return form_fields(page.text)


# --- list -------------------------------------------------------------------------------


def test_list_shows_each_survey_with_n_nps_and_link(client, org, survey, settings):
    for score in (10, 9, 3):
        client.post(f"/api/v1/surveys/{survey['id']}/responses", json={"score": score},
                    headers=org.headers)
    login(client, org.owner_email)
    page = client.get("/surveys?lang=en")
    assert page.status_code == 200
    html = page.text
    assert "Relationship Q1" in html
    row = html[html.index("Relationship Q1"):]
    row = row[: row.index("</tr>")]
    assert ">3</td>" in row  # responses
    assert "33.3" in row  # (2 - 1) / 3
    assert "±" in row and 'class="low-n"' in row  # n < 30 is flagged
    assert "Relationship NPS" in row  # the glossary tooltip
    assert f"{settings.base_url}/s/" in row
    assert 'href="/surveys/new"' in html
    assert 'class="badge live"' in row


def test_list_status_filter_and_tabs(client, org, survey):
    client.post("/api/v1/surveys", json={"name": "Draft one"}, headers=org.headers)
    login(client, org.owner_email)
    live = client.get("/surveys?status=live&lang=en").text
    assert "Relationship Q1" in live and "Draft one" not in live
    assert "Draft one" in client.get("/surveys?status=bogus").text  # unknown: show all


def test_empty_list_invites_to_create(client, org):
    login(client, org.owner_email)
    html = client.get("/surveys?lang=zh-CN").text
    assert "还没有问卷" in html and 'href="/surveys/new"' in html


# --- create ------------------------------------------------------------------------------


def test_create_through_the_form(client, org, db):
    login(client, org.owner_email)
    fields = new_form(client)
    # The standard wording is prefilled in both languages.
    assert ("nps.text.en", "How likely are you to recommend Acme to a friend or colleague?") \
        in fields
    assert any(n == "followup.zh-CN.detractor" and v for n, v in fields)
    fields = replace(fields, "name", "After delivery")
    fields = replace(fields, "nps_type", "touchpoint")
    fields = replace(fields, "journey_stage", "Fulfilment")
    fields = replace(fields, "touchpoint", "Delivered")
    fields = replace(fields, "status", "live")
    # No JavaScript: the "add driver" button posts the form and the page comes back with it.
    added = post_form(client, "/surveys/new", fields + [("action", "add_driver"),
                                                        ("driver_catalog", "delivery")])
    assert added.status_code == 200
    fields = form_fields(added.text)
    assert ("name", "After delivery") in fields  # nothing typed is lost
    uid = row_of_key(fields, "delivery")
    assert (f"q.{uid}.text.zh-CN", "配送速度") in fields

    created = post_form(client, "/surveys/new", fields, follow_redirects=False)
    assert created.status_code == 303, created.text
    survey_id = created.headers["location"].split("/")[2].split("?")[0]
    data = api_survey(client, org, survey_id)
    assert (data["name"], data["nps_type"], data["status"]) == ("After delivery", "touchpoint",
                                                               "live")
    assert (data["journey_stage"], data["touchpoint"]) == ("Fulfilment", "Delivered")
    assert [q["key"] for q in data["questions"]] == ["nps", "comment", "delivery"]
    driver = data["questions"][2]
    assert driver["texts"]["en"] == {"text": "Delivery",
                                     "prompt": "Please rate Delivery (1 very poor - 5 excellent)"}
    assert driver["show_if_categories"] is None
    followup = data["questions"][1]["texts"]["zh-CN"]["by_category"]
    assert set(followup) == {"promoter", "passive", "detractor"}

    entry = db.scalar(select(AuditLog).where(AuditLog.target_id == survey_id))
    assert entry is not None and entry.action == "survey.create"
    assert entry.actor == org.owner_email

    shown = client.get(f"/surveys/{survey_id}?saved=created&lang=en").text
    assert "Survey created." in shown


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_validation_errors_show_next_to_the_field_and_keep_input(client, org, lang):
    login(client, org.owner_email)
    fields = new_form(client, lang)
    fields = replace(fields, "name", "  ")
    fields = replace(fields, "touchpoint", "收货后")
    fields = without(fields, "languages") + [("languages", "zh-CN")]
    fields = replace(fields, "default_language", "en")
    response = post_form(client, f"/surveys/new?lang={lang}", fields)
    assert response.status_code == 422
    html = response.text
    messages = catalogs()[lang]
    for name, key in (("name", "surveys.error.required"),
                      ("default_language", "surveys.error.default_language")):
        error = re.search(rf'<p class="field-error" id="err-{name}"[^>]*>([^<]+)</p>', html)
        assert error and html_module.unescape(error.group(1)) == messages[key], name
    assert 'value="收货后"' in html  # what was typed stays
    assert client.get("/api/v1/surveys", headers=org.headers).json()["total"] == 0


def test_garbage_input_is_a_422_never_a_500(client, org):
    login(client, org.owner_email)
    token = CSRF.search(client.get("/surveys/new").text).group(1)
    bad = [("csrf_token", token), ("name", "x" * 300), ("nps_type", "bogus"),
           ("languages", "fr"), ("status", "weird"), ("q", "NOT-A-UID"), ("q", "abc"),
           ("q.abc.kind", "single_choice"), ("q.abc.key", "Bad Key"),
           ("q.abc.show_if", "nobody")]
    response = post_form(client, "/surveys/new?lang=en", bad)
    assert response.status_code == 422
    html = response.text
    assert 'id="err-nps_type"' in html and 'id="err-languages"' in html
    assert 'id="err-status"' in html and 'id="err-q.abc.key"' in html
    assert 'id="err-q.abc.options"' in html and 'id="err-q.abc.show_if"' in html
    # An editing button aimed at a row that is gone just shows the form again.
    assert post_form(client, "/surveys/new", bad + [("action", "remove:zzz")]).status_code == 200
    assert post_form(client, "/surveys/new", bad + [("action", "explode")]).status_code == 422
    only_name_bad = new_form(client)
    only_name_bad = replace(only_name_bad, "name", "x" * 201)
    response = post_form(client, "/surveys/new?lang=en", only_name_bad)
    assert response.status_code == 422
    assert "at most 200 characters" in response.text  # the schema's own limit, mapped


def test_duplicate_and_malformed_keys_are_pointed_at(client, org):
    login(client, org.owner_email)
    fields = replace(new_form(client), "name", "Keys")
    fields += [("q", "aaa"), ("q.aaa.kind", "driver_rating"), ("q.aaa.key", "price"),
               ("q.aaa.text.zh-CN", "价格"), ("q.aaa.text.en", "Price"),
               ("q", "bbb"), ("q.bbb.kind", "driver_rating"), ("q.bbb.key", "price"),
               ("q.bbb.text.zh-CN", "价格2"), ("q.bbb.text.en", "Price 2"),
               ("q", "ccc"), ("q.ccc.kind", "driver_rating"), ("q.ccc.key", "nps"),
               ("q.ccc.text.zh-CN", "x"), ("q.ccc.text.en", "x")]
    for uid in ("aaa", "bbb", "ccc"):
        fields += [(f"q.{uid}.show_if", c) for c in ("promoter", "passive", "detractor")]
    html = post_form(client, "/surveys/new?lang=en", fields).text
    assert 'id="err-q.aaa.key"' not in html
    assert "Key &#39;price&#39; is already used" in html and 'id="err-q.bbb.key"' in html
    assert 'id="err-q.ccc.key"' in html  # "nps" is the NPS question's key


# --- edit -------------------------------------------------------------------------------


def test_edit_questions_and_skip_logic_round_trip(client, org, survey, db):
    login(client, org.owner_email)
    page = client.get(f"/surveys/{survey['id']}?lang=en")
    assert page.status_code == 200
    fields = form_fields(page.text)
    price, delivery = row_of_key(fields, "price"), row_of_key(fields, "delivery")
    assert row_uids(fields) == [price, delivery]

    # Add a multiple-choice reason shown to detractors and passives, with two options.
    fields += [("q", "r1"), ("q.r1.kind", "multiple_choice"), ("q.r1.key", "why"),
               ("q.r1.required", "1"), ("q.r1.text.zh-CN", "主要原因?"),
               ("q.r1.text.en", "Main reasons?"),
               ("q.r1.show_if", "passive"), ("q.r1.show_if", "detractor"),
               ("q.r1.opt", "o1"), ("q.r1.opt.o1.key", "slow"),
               ("q.r1.opt.o1.label.zh-CN", "太慢"), ("q.r1.opt.o1.label.en", "Too slow"),
               ("q.r1.opt", "o2"), ("q.r1.opt.o2.key", ""),
               ("q.r1.opt.o2.label.zh-CN", "太贵"), ("q.r1.opt.o2.label.en", "Too expensive")]
    # Move it first, drop "price", show "delivery" to promoters only.
    fields = [f for f in fields if not f[0].startswith(f"q.{price}.") and f != ("q", price)]
    fields = [f for f in fields if f != ("q", "r1")]
    fields.insert(fields.index(("q", delivery)), ("q", "r1"))
    fields = [f for f in fields if f[0] != f"q.{delivery}.show_if"]
    fields += [(f"q.{delivery}.show_if", "promoter")]
    fields = replace(fields, "nps.text.en", "Would you recommend us?")
    saved = post_form(client, f"/surveys/{survey['id']}", fields, follow_redirects=False)
    assert saved.status_code == 303, saved.text

    data = api_survey(client, org, survey["id"])
    assert [q["key"] for q in data["questions"]] == ["nps", "comment", "why", "delivery"]
    assert data["questions"][0]["texts"]["en"]["text"] == "Would you recommend us?"
    why = data["questions"][2]
    assert why["kind"] == "multiple_choice" and why["required"] is True
    assert why["show_if_categories"] == ["passive", "detractor"]
    assert why["options"] == [
        {"key": "slow", "labels": {"zh-CN": "太慢", "en": "Too slow"}},
        {"key": "too_expensive", "labels": {"zh-CN": "太贵", "en": "Too expensive"}},
    ]
    assert data["questions"][3]["show_if_categories"] == ["promoter"]

    # The page shows what was saved, and posting it back unchanged changes nothing.
    again = form_fields(client.get(f"/surveys/{survey['id']}").text)
    why_uid = row_of_key(again, "why")
    assert [v for n, v in again if n == f"q.{why_uid}.show_if"] == ["passive", "detractor"]
    assert post_form(client, f"/surveys/{survey['id']}", again,
                       follow_redirects=False).status_code == 303
    assert api_survey(client, org, survey["id"])["questions"] == [
        {**q, "id": q2["id"]} for q, q2 in zip(data["questions"],
                                               api_survey(client, org, survey["id"])["questions"],
                                               strict=True)
    ]
    entries = list(db.scalars(select(AuditLog).where(AuditLog.action == "survey.update",
                                                     AuditLog.target_id == survey["id"])))
    assert entries and "questions" in entries[0].detail["changed"]


def test_no_js_buttons_remove_and_reorder(client, org, survey):
    login(client, org.owner_email)
    fields = form_fields(client.get(f"/surveys/{survey['id']}").text)
    price, delivery = row_of_key(fields, "price"), row_of_key(fields, "delivery")
    moved = post_form(client, f"/surveys/{survey['id']}", fields + [("action", f"up:{delivery}")])
    assert moved.status_code == 200
    assert row_uids(form_fields(moved.text)) == [delivery, price]
    url = f"/surveys/{survey['id']}"
    removed = post_form(client, url, fields + [("action", f"remove:{price}")])
    assert row_uids(form_fields(removed.text)) == [delivery]
    choice = post_form(client, url, fields + [("action", "add_single_choice")])
    new_uid = row_uids(form_fields(choice.text))[-1]
    with_option = post_form(client, url,
                            form_fields(choice.text) + [("action", f"add_option:{new_uid}")])
    assert len([n for n, _ in form_fields(with_option.text) if n == f"q.{new_uid}.opt"]) == 2
    # None of this saved anything.
    assert [q["key"] for q in api_survey(client, org, survey["id"])["questions"]] == [
        "nps", "comment", "price", "delivery"]


def test_status_transitions_follow_the_rules(client, org, survey):
    login(client, org.owner_email)
    url = f"/surveys/{survey['id']}"
    page = client.get(url).text
    offered = re.findall(r'<option value="(\w+)"', page[page.index('name="status"'):])[:3]
    assert offered == ["live", "paused", "closed"]  # draft is only a start
    fields = form_fields(page)
    back_to_draft = post_form(client, f"{url}?lang=en", replace(fields, "status", "draft"))
    assert back_to_draft.status_code == 422
    assert "not allowed from the current status" in back_to_draft.text
    assert api_survey(client, org, survey["id"])["status"] == "live"
    for target, expected in (("closed", 303), ("paused", 422), ("live", 303), ("paused", 303)):
        fields = form_fields(client.get(url).text)
        response = post_form(client, url, replace(fields, "status", target),
                               follow_redirects=False)
        assert response.status_code == expected, (target, response.text[:200])
    assert api_survey(client, org, survey["id"])["status"] == "paused"
    # A new survey starts as a draft or live, nothing else.
    fields = replace(replace(new_form(client), "name", "S"), "status", "closed")
    assert post_form(client, "/surveys/new", fields).status_code == 422


# --- security ---------------------------------------------------------------------------


def test_posting_without_csrf_token_is_403(client, org, survey):
    login(client, org.owner_email)
    fields = form_fields(client.get(f"/surveys/{survey['id']}").text)
    url = f"/surveys/{survey['id']}"
    assert post_form(client, url, without(fields, "csrf_token")).status_code == 403
    assert post_form(client, url, replace(fields, "csrf_token", "forged")).status_code == 403
    assert post_form(client, "/surveys/new", without(fields, "csrf_token")).status_code == 403


@pytest.mark.parametrize("role", ["viewer", "agent"])
def test_read_only_roles_can_view_but_not_save(client, org, survey, make_user, role):
    login(client, make_user(org.org_id, role))
    page = client.get(f"/surveys/{survey['id']}?lang=en")
    assert page.status_code == 200
    assert "your role does not include editing surveys" in page.text
    assert '<fieldset class="editor-main" disabled>' in page.text
    assert 'value="save"' not in page.text
    token = CSRF.search(page.text).group(1)
    response = post_form(client, f"/surveys/{survey['id']}", {"csrf_token": token, "name": "x"})
    assert response.status_code == 403
    assert client.get("/surveys/new").status_code == 403
    listing = client.get("/surveys").text
    assert "Relationship Q1" in listing and 'href="/surveys/new"' not in listing
    assert client.get(f"/surveys/{survey['id']}/qr.png").status_code == 200


def test_analyst_can_save(client, org, survey, make_user):
    login(client, make_user(org.org_id, "analyst"))
    fields = form_fields(client.get(f"/surveys/{survey['id']}").text)
    response = post_form(client, f"/surveys/{survey['id']}", replace(fields, "name", "Renamed"),
                           follow_redirects=False)
    assert response.status_code == 303
    assert api_survey(client, org, survey["id"])["name"] == "Renamed"


def test_another_orgs_survey_is_404(client, org, make_org):
    other = make_org("Other")
    theirs = client.post("/api/v1/surveys", json={"name": "Theirs"}, headers=other.headers).json()
    login(client, org.owner_email)
    token = CSRF.search(client.get("/surveys/new").text).group(1)
    assert client.get(f"/surveys/{theirs['id']}").status_code == 404
    assert client.get(f"/surveys/{theirs['id']}/qr.png").status_code == 404
    response = post_form(client, f"/surveys/{theirs['id']}", {"csrf_token": token, "name": "x"})
    assert response.status_code == 404
    assert "Theirs" not in client.get("/surveys").text
    assert api_survey(client, other, theirs["id"])["name"] == "Theirs"


def test_pages_require_sign_in(client, survey):
    for path in ("/surveys", "/surveys/new", f"/surveys/{survey['id']}",
                 f"/surveys/{survey['id']}/qr.png"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")


# --- share panel ------------------------------------------------------------------------


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """Checks the PNG's signature and chunk CRCs; returns width, height and pixel rows."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body), kind
        chunks.setdefault(kind, b"")
        chunks[kind] += body
        pos += 12 + length
    assert b"IEND" in chunks
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert (depth, colour, interlace) == (8, 0, 0)  # 8-bit greyscale, not interlaced
    raw = zlib.decompress(chunks[b"IDAT"])
    assert len(raw) == height * (width + 1)
    rows = [raw[i * (width + 1):(i + 1) * (width + 1)] for i in range(height)]
    assert all(row[0] == 0 for row in rows)  # filter type None
    return width, height, [row[1:] for row in rows]


def test_qr_code_is_a_png_of_the_public_link(client, org, survey, settings):
    login(client, org.owner_email)
    page = client.get(f"/surveys/{survey['id']}").text
    public = f"{settings.base_url}/s/"
    assert public in page and f'src="/surveys/{survey["id"]}/qr.png"' in page
    link = re.search(rf'value="({re.escape(public)}[0-9a-f]+)"', page).group(1)
    response = client.get(f"/surveys/{survey['id']}/qr.png")
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    width, height, rows = decode_png(response.content)
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=1,
                         border=4)
    code.add_data(link)
    code.make(fit=True)
    matrix = code.get_matrix()
    scale = width // len(matrix)
    assert width == height == scale * len(matrix) and scale >= 4
    sampled = [[rows[y * scale + scale // 2][x * scale + scale // 2] == 0
                for x in range(len(matrix))] for y in range(len(matrix))]
    assert sampled == matrix
    download = client.get(f"/surveys/{survey['id']}/qr.png?download=1")
    assert "attachment" in download.headers["content-disposition"]


# --- both languages ---------------------------------------------------------------------


@pytest.mark.parametrize(("lang", "phrases"), [
    ("zh-CN", ["问卷项目", "新建问卷", "关系 NPS", "收集中", "推荐者", "仅显示给", "分享"]),
    ("en", ["Surveys", "New survey", "Relationship NPS", "Live", "Promoters", "Show only to",
            "Share"]),
])
def test_pages_render_in_both_languages_without_raw_keys(client, org, survey, lang, phrases):
    login(client, org.owner_email)
    keys = set(catalogs()["en"])
    seen = ""
    for path in ("/surveys", "/surveys/new", f"/surveys/{survey['id']}"):
        response = client.get(f"{path}?lang={lang}")
        assert response.status_code == 200
        html = response.text
        leaked = [k for k in keys if re.search(rf"[>\"\s]{re.escape(k)}[<\"\s]", html)]
        assert not leaked, (path, leaked[:5])
        assert not re.search(r">\s*surveys\.[a-z_.]+\s*<", html), path
        seen += html
    for phrase in phrases:
        assert phrase in seen, phrase


def test_follow_up_required_flag_round_trips(client, org, survey):
    """A follow-up made required (in the editor or the API) stays required on the next save."""
    login(client, org.owner_email)
    url = f"/surveys/{survey['id']}"
    fields = form_fields(client.get(url).text)
    assert ("followup.required", "1") not in fields
    assert post_form(client, url, fields + [("followup.required", "1")],
                     follow_redirects=False).status_code == 303
    comment = next(q for q in api_survey(client, org, survey["id"])["questions"]
                   if q["kind"] == "open_followup")
    assert comment["required"] is True
    again = form_fields(client.get(url).text)
    assert ("followup.required", "1") in again
    assert post_form(client, url, again, follow_redirects=False).status_code == 303
    comment = next(q for q in api_survey(client, org, survey["id"])["questions"]
                   if q["kind"] == "open_followup")
    assert comment["required"] is True
