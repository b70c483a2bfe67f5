"""The schedules page in both languages: edit (errors name the field and change nothing),
pause, resume and delete, each behind the CSRF token and audit logged."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from npsloop.accounts.models import AuditLog
from npsloop.distribution.models import Schedule
from tests.distribution.helpers import contacts_and_segment, email_channel


@pytest.fixture
def signed_in(client, org):
    response = client.post("/login", data={"email": org.owner_email, "password": org.password},
                           follow_redirects=False)
    assert response.status_code in (302, 303), response.text
    return client


def _csrf(client, path: str) -> str:
    return client.get(path).text.split('name="csrf_token" value="')[1].split('"')[0]


def test_edit_pause_resume_delete_from_the_page(signed_in, org, survey, db):
    client = signed_in
    channel_id = email_channel(client, org, 2525)
    segment_id = contacts_and_segment(client, org, count=1)
    schedule = client.post("/api/v1/schedules", headers=org.headers, json={
        "survey_id": survey["id"], "segment_id": segment_id, "channel": "email",
        "notify_channel_id": channel_id, "name": "Quarterly", "every_unit": "month",
        "every_count": 3, "starts_at": "2031-01-01T02:00:00Z"}).json()
    edit_url = f"/campaigns/schedules/{schedule['id']}/edit"
    for lang, words in (("en", ("Edit schedule", "Pause", "Active")),
                        ("zh-CN", ("编辑定期发送", "暂停", "运行中"))):
        listing = client.get("/campaigns/schedules", params={"lang": lang})
        assert listing.status_code == 200 and words[1] in listing.text
        assert words[2] in listing.text and edit_url in listing.text
        page = client.get(edit_url, params={"lang": lang})
        assert page.status_code == 200 and words[0] in page.text
        assert 'value="2031-01-01T10:00"' in page.text  # the first run in Shanghai time
        assert f'<option value="{segment_id}" selected>' in page.text
        assert f'<option value="{channel_id}" selected>' in page.text
        assert survey["name"] in page.text

    token = _csrf(client, edit_url)
    form = {"csrf_token": token, "name": "Monthly pulse", "segment_id": segment_id,
            "notify_channel_id": channel_id, "every_unit": "cron", "every_count": "1",
            "cron": "0 9 * * mon-xyz", "starts_at": "2031-01-01T10:00", "expires_days": "14",
            "enabled": "on", "subject_en": "", "body_en": "", "subject_zh-CN": "",
            "body_zh-CN": ""}
    bad = client.post(edit_url, data=form)
    assert bad.status_code == 422 and "<code>cron</code>" in bad.text
    db.expire_all()
    assert db.get(Schedule, schedule["id"]).name == "Quarterly"  # nothing saved
    saved = client.post(edit_url, data={**form, "cron": "0 9 1 * *"}, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"].endswith("notice=saved")
    db.expire_all()
    row = db.get(Schedule, schedule["id"])
    assert (row.name, row.every_unit, row.cron, row.expires_days) == (
        "Monthly pulse", "cron", "0 9 1 * *", 14)

    base = f"/campaigns/schedules/{schedule['id']}"
    assert client.post(f"{base}/pause", data={}).status_code == 403  # no CSRF token
    paused = client.post(f"{base}/pause", data={"csrf_token": token}, follow_redirects=False)
    assert paused.headers["location"].endswith("notice=paused")
    db.expire_all()
    assert db.get(Schedule, schedule["id"]).enabled is False
    zh = client.get("/campaigns/schedules", params={"lang": "zh-CN"}).text
    assert "已暂停" in zh and "恢复" in zh
    client.post(f"{base}/resume", data={"csrf_token": token})
    db.expire_all()
    assert db.get(Schedule, schedule["id"]).enabled is True
    assert client.post(f"{base}/explode", data={"csrf_token": token}).status_code == 404
    deleted = client.post(f"{base}/delete", data={"csrf_token": token}, follow_redirects=False)
    assert deleted.headers["location"].endswith("notice=deleted")
    db.expire_all()
    assert db.get(Schedule, schedule["id"]) is None
    assert client.get(edit_url).status_code == 404
    actions = list(db.scalars(select(AuditLog.action).where(
        AuditLog.target_id == schedule["id"]).order_by(AuditLog.created_at)))
    assert actions == ["schedule.create", "schedule.update", "schedule.pause",
                       "schedule.resume", "schedule.delete"]
