"""Campaign pages in both languages: list, create (now, later, repeat), detail with its
funnel and skips, schedules, the funnel page; form errors name the field; QR SVG."""

from __future__ import annotations

import pytest

from tests.distribution.helpers import contacts_and_segment, email_channel


@pytest.fixture
def signed_in(client, org):
    response = client.post("/login", data={"email": org.owner_email, "password": org.password},
                           follow_redirects=False)
    assert response.status_code in (302, 303), response.text
    return client


def _csrf(client, path: str) -> str:
    return client.get(path).text.split('name="csrf_token" value="')[1].split('"')[0]


def test_create_send_and_view_in_both_languages(signed_in, org, survey):
    client = signed_in
    channel_id = email_channel(client, org, 2525)
    segment_id = contacts_and_segment(client, org, count=2)
    token = _csrf(client, "/campaigns/new")
    form = {"csrf_token": token, "name": "Spring NPS", "survey_id": survey["id"],
            "segment_id": segment_id, "notify_channel_id": channel_id, "when": "now",
            "expires_days": "14", "subject_en": "Hi {name}", "body_en": "Tell {org}",
            "subject_zh-CN": "", "body_zh-CN": ""}
    bad = client.post("/campaigns/new", data={**form, "subject_en": "Hi {nme}"})
    assert bad.status_code == 422 and "messages.en.subject" in bad.text
    created = client.post("/campaigns/new", data=form, follow_redirects=False)
    assert created.status_code == 303, created.text
    detail_url = created.headers["location"].split("?")[0]
    schedule = client.post("/campaigns/new", data={
        **form, "when": "repeat", "every_unit": "month", "every_count": "3",
        "starts_at": "2031-01-01T10:00"}, follow_redirects=False)
    assert schedule.status_code == 303 and "schedules" in schedule.headers["location"]
    for lang in ("en", "zh-CN"):
        for path in ("/campaigns", detail_url, "/campaigns/new", "/campaigns/schedules",
                     f"/campaigns/funnel?survey_id={survey['id']}", f"/surveys/{survey['id']}"):
            page = client.get(path, params={"lang": lang})
            assert page.status_code == 200, (path, page.text[:300])
            assert ">distribution." not in page.text and ">nav.campaigns" not in page.text
    detail = client.get(detail_url, params={"lang": "en"}).text
    assert "Spring NPS" in detail and 'data-testid="funnel"' in detail
    assert "2" in detail.split('data-testid="funnel"')[1].split("</ol>")[0]
    schedules = client.get("/campaigns/schedules", params={"lang": "zh-CN"}).text
    assert "每 3 个月" in schedules and "2031-01-01 10:00" in schedules


def test_qr_svg_download(signed_in, survey):
    response = signed_in.get(f"/surveys/{survey['id']}/qr.svg", params={"download": 1})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert "attachment" in response.headers["content-disposition"]
    assert response.text.lstrip().startswith("<?xml") and "<path" in response.text
