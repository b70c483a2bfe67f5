"""Editing, pausing, resuming and deleting schedules through the API: 422s name the field
and change nothing, every change is audit logged, a resumed schedule does not replay what
its pause skipped, deleting keeps the campaigns and invitations it created, and another
organisation's schedules are invisible."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from npsloop.accounts.models import AuditLog
from npsloop.core.db import utcnow
from npsloop.distribution import campaigns, schedules
from npsloop.distribution.models import Campaign, Invitation, Schedule, ScheduleRun
from tests.distribution.helpers import contacts_and_segment, email_channel


def _create(client, org, survey) -> tuple[dict, str, str]:
    channel_id = email_channel(client, org, 2525)
    segment_id = contacts_and_segment(client, org, count=2)
    created = client.post("/api/v1/schedules", headers=org.headers, json={
        "survey_id": survey["id"], "segment_id": segment_id, "channel": "email",
        "notify_channel_id": channel_id, "name": "Quarterly", "every_unit": "month",
        "every_count": 3, "starts_at": "2031-01-01T02:00:00Z"})
    assert created.status_code == 201, created.text
    return created.json(), segment_id, channel_id


def _actions(db, org_id: str, schedule_id: str) -> list[str]:
    return list(db.scalars(select(AuditLog.action).where(
        AuditLog.org_id == org_id, AuditLog.target_id == schedule_id)
        .order_by(AuditLog.created_at)))


def test_edit_validates_and_audits(client, org, survey, db):
    schedule, _, channel_id = _create(client, org, survey)
    url = f"/api/v1/schedules/{schedule['id']}"
    patch = lambda body: client.patch(url, json=body, headers=org.headers)  # noqa: E731

    def loc(body) -> list:
        response = patch(body)
        assert response.status_code == 422, response.text
        return response.json()["detail"][0]["loc"]

    assert loc({"every_count": 0})[-1] == "every_count"
    assert loc({"every_unit": "cron", "cron": "61 * * * *"}) == ["body", "cron"]
    assert loc({"every_unit": "cron"}) == ["body", "cron"]  # cron needs an expression
    assert loc({"timezone": "Mars/Olympus"}) == ["body", "timezone"]
    assert loc({"cron": "0 9 * * 1"}) == ["body", "cron"]  # the schedule is monthly
    assert loc({"segment_id": "nope"}) == ["body", "segment_id"]
    assert loc({"channel": "sms"}) == ["body", "notify_channel_id"]  # an email account
    assert loc({"enabled": None}) == ["body", "enabled"]
    assert loc({"survey_id": survey["id"]})[-1] == "survey_id"  # not editable
    assert loc({"messages": {"en": {"subject": "Hi {first_name}"}}}) == [
        "body", "messages", "en", "subject"]
    assert client.get(url, headers=org.headers).json() == schedule  # nothing changed

    other_segment = client.post("/api/v1/segments", headers=org.headers, json={
        "name": "Everyone", "rules": {"match": "all", "conditions": []}}).json()["id"]
    edited = patch({"every_unit": "cron", "cron": "0 10 * * 1", "segment_id": other_segment,
                    "name": "Weekly pulse", "messages": {"en": {"subject": "Hello {name}"}}})
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert (body["every_unit"], body["cron"], body["segment_id"], body["name"]) == (
        "cron", "0 10 * * 1", other_segment, "Weekly pulse")
    assert body["next_run_at"].endswith("T02:00:00Z")  # Monday 10:00 in Shanghai
    assert body["messages"]["en"]["subject"] == "Hello {name}"
    assert body["messages"]["zh-CN"] == schedule["messages"]["zh-CN"]  # kept
    back = patch({"every_unit": "week", "every_count": 2})
    assert back.status_code == 200 and back.json()["cron"] == ""
    assert back.json()["next_run_at"].startswith("2031-01-01T02:00")  # from starts_at

    paused = patch({"enabled": False})
    assert paused.status_code == 200
    assert paused.json()["enabled"] is False and paused.json()["next_run_at"] is None
    assert patch({"enabled": False}).status_code == 200  # idempotent, nothing logged
    resumed = patch({"enabled": True}).json()
    assert resumed["enabled"] is True and resumed["next_run_at"] is not None
    assert _actions(db, org.org_id, schedule["id"]) == [
        "schedule.create", "schedule.update", "schedule.update", "schedule.pause",
        "schedule.resume"]
    detail = db.scalar(select(AuditLog.detail).where(AuditLog.target_id == schedule["id"],
                                                     AuditLog.action == "schedule.pause"))
    assert detail["changed"]["enabled"] == {"from": True, "to": False}
    assert channel_id == resumed["notify_channel_id"]


def test_resume_after_a_long_pause_does_not_replay(client, org, survey, db):
    schedule, _, _ = _create(client, org, survey)
    url = f"/api/v1/schedules/{schedule['id']}"
    client.patch(url, json={"enabled": False}, headers=org.headers)
    row = db.get(Schedule, schedule["id"])
    row.starts_at = utcnow() - timedelta(days=400)  # a run was due long ago
    db.commit()
    resumed = client.patch(url, json={"enabled": True}, headers=org.headers)
    assert resumed.status_code == 200
    db.expire_all()
    assert db.get(Schedule, schedule["id"]).next_run_at > utcnow()
    assert schedules.run_due(db, now=utcnow()) == []


def test_delete_keeps_campaigns_and_invitations(client, org, survey, db):
    schedule, _, _ = _create(client, org, survey)
    row = db.get(Schedule, schedule["id"])
    row.next_run_at = utcnow() - timedelta(minutes=1)
    db.commit()
    runs = schedules.run_due(db, now=utcnow())
    db.commit()
    assert len(runs) == 1 and runs[0].campaign_id
    campaign = db.get(Campaign, runs[0].campaign_id)
    assert campaigns.plan_for(db, campaign, budget_seconds=30)
    invited = db.scalar(select(func.count()).select_from(Invitation).where(
        Invitation.campaign_id == campaign.id))
    assert invited == 2

    url = f"/api/v1/schedules/{schedule['id']}"
    assert client.delete(url, headers=org.headers).status_code == 204
    assert client.get(url, headers=org.headers).status_code == 404
    assert client.delete(url, headers=org.headers).status_code == 404
    assert client.patch(url, json={"enabled": False}, headers=org.headers).status_code == 404
    kept = client.get(f"/api/v1/campaigns/{campaign.id}", headers=org.headers)
    assert kept.status_code == 200 and kept.json()["schedule_id"] is None
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Invitation).where(
        Invitation.campaign_id == campaign.id)) == invited
    assert db.scalar(select(func.count()).select_from(ScheduleRun).where(
        ScheduleRun.schedule_id == schedule["id"])) == 0
    assert _actions(db, org.org_id, schedule["id"])[-1] == "schedule.delete"


def test_another_organisation_cannot_touch_a_schedule(client, org, survey, make_org):
    schedule, _, _ = _create(client, org, survey)
    other = make_org("Other")
    url = f"/api/v1/schedules/{schedule['id']}"
    assert client.get(url, headers=other.headers).status_code == 404
    assert client.patch(url, json={"enabled": False},
                        headers=other.headers).status_code == 404
    assert client.delete(url, headers=other.headers).status_code == 404
    assert client.get(url, headers=org.headers).json() == schedule
