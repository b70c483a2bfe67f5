"""A fixture "world" per organisation: one object of each kind, made through the real API
(or the service layer where no API creates it), addressed by the route path parameter that
names it.

PARAM_FACTORIES is the one place to extend when a route with a new path parameter appears:
map the parameter name to a function (World -> value). The generated tests fail with the list
of unmapped parameters until then.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from npsloop.notify.base import Notice
from npsloop.notify.service import enqueue
from npsloop.referrals.service import code_for_response
from npsloop.responses.models import Response


class World:
    """Objects of one organisation, made on first use and memoised by parameter name."""

    def __init__(self, client, db: Session, headers: dict[str, str], marker: str) -> None:
        self.client = client
        self.db = db
        self.headers = headers
        # Every name and comment in this world carries the marker, so a response body leaking
        # the organisation's data to another one is easy to spot.
        self.marker = marker
        self._values: dict[str, str] = {}

    def get(self, param: str) -> str:
        if param not in self._values:
            self._values[param] = PARAM_FACTORIES[param](self)
        return self._values[param]

    def fresh(self, param: str) -> str:
        """A new object of the kind (for destructive calls), its dependencies memoised."""
        return PARAM_FACTORIES[param](self)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post(path, json=body, headers=self.headers)
        assert response.status_code in (200, 201), (path, response.status_code, response.text)
        return response.json()

    def name(self, kind: str) -> str:
        return f"{kind} {self.marker} {uuid.uuid4().hex[:6]}"


def _survey(w: World) -> str:
    return w.post("/api/v1/surveys", {"name": w.name("survey"), "status": "live",
                                      "drivers": ["price"]})["id"]


def _token(w: World) -> str:
    from npsloop.surveys.models import Survey

    return w.db.scalar(select(Survey.public_token).where(Survey.id == w.get("survey_id")))


def _contact_external_id(w: World) -> str:
    external_id = f"C-{uuid.uuid4().hex[:8]}"
    w.post("/api/v1/contacts", {"external_id": external_id, "name": w.name("contact"),
                                "email": f"{external_id}@example.test"})
    return external_id


def _contact_id(w: World) -> str:
    response = w.client.get(f"/api/v1/contacts/{w.get('external_id')}", headers=w.headers)
    return response.json()["id"]


def _response(w: World) -> str:
    return w.post(f"/api/v1/surveys/{w.get('survey_id')}/responses", {
        "score": 10, "comment": w.name("comment"),
        "contact": {"external_id": w.get("external_id")}})["id"]


def _segment(w: World) -> str:
    return w.post("/api/v1/segments", {"name": w.name("segment"), "rules": {}})["id"]


def _ticket(w: World) -> str:
    # A detractor response; the ticket is opened explicitly through the API.
    response = w.post(f"/api/v1/surveys/{w.get('survey_id')}/responses",
                      {"score": 2, "comment": w.name("detractor")})
    return w.post("/api/v1/tickets", {"response_id": response["id"],
                                      "subject": w.name("ticket")})["id"]


def _rule(w: World) -> str:
    return w.post("/api/v1/rules", {
        "name": w.name("rule"), "enabled": False,
        "conditions": [{"field": "category", "values": ["detractor"]}],
        "actions": {"ticket": {"priority": "P2"}}})["id"]


def _team(w: World) -> str:
    return w.post("/api/v1/teams", {"key": f"t{uuid.uuid4().hex[:8]}",
                                    "name": w.name("team")})["id"]


def _plan(w: World) -> str:
    return w.post("/api/v1/plans", {
        "title": w.name("plan"), "start_date": date.today().isoformat(),
        "link_kind": "survey", "link_value": w.get("survey_id")})["id"]


def _task(w: World) -> str:
    return w.post(f"/api/v1/plans/{w.get('plan_id')}/tasks", {"title": w.name("task")})["id"]


def _channel(w: World) -> str:
    return w.post("/api/v1/notify/channels", {
        "kind": "webhook", "name": w.name("channel"), "enabled": False,
        "config": {"url": "http://127.0.0.1:9/hook"}})["id"]


def _endpoint(w: World) -> str:
    return w.post("/api/v1/webhooks", {
        "url": "http://127.0.0.1:9/endpoint", "event_types": ["response.created"],
        "description": w.name("webhook"), "enabled": False})["id"]


def _message(w: World) -> str:
    message = enqueue(w.db, org_id=_org_id(w), channel_id=w.get("channel_id"),
                      message=Notice(title=w.name("notice")))
    w.db.commit()
    return message.id


def _topic(w: World) -> str:
    key = f"topic_{uuid.uuid4().hex[:6]}"
    return w.post("/api/v1/text/topics", {
        "key": key, "name_zh": w.name("topic"), "name_en": w.name("topic"),
        "keywords": {"zh": ["配送"], "en": ["delivery"]}})["id"]


def _attribute_key(w: World) -> str:
    key = f"attr_{uuid.uuid4().hex[:6]}"
    w.post("/api/v1/contact-attributes", {"key": key, "type": "string",
                                           "label": w.name("attribute")})
    return key


def _import(w: World) -> str:
    csv = f"external_id,name\nI-{uuid.uuid4().hex[:6]},{w.marker}\n,missing id\n"
    response = w.client.post("/api/v1/contacts/import", headers=w.headers,
                             data={"mode": "valid_only"},
                             files={"file": ("contacts.csv", csv.encode(), "text/csv")})
    assert response.status_code in (200, 201, 202), response.text
    return response.json()["job"]["id"]


def _code(w: World) -> str:
    response = w.db.get(Response, w.get("response_id"))
    code = code_for_response(w.db, response)
    w.db.commit()
    return code.code


def _api_key(w: World) -> str:
    return w.post("/api/v1/api-keys", {"name": w.name("key"), "role": "viewer"})["id"]


def _org_id(w: World) -> str:
    return w.client.get("/api/v1/me", headers=w.headers).json()["org_id"]


def _email_channel(w: World) -> str:
    return w.post("/api/v1/notify/channels", {
        # Enabled (campaigns refuse a disabled account); nothing sends: no worker runs.
        "kind": "email", "name": w.name("mail"), "enabled": True,
        "config": {"host": "127.0.0.1", "port": 9, "security": "none",
                   "from_address": "cx@example.test"}})["id"]


def _campaign(w: World) -> str:
    return w.post("/api/v1/campaigns", {
        "name": w.name("campaign"), "survey_id": w.get("survey_id"),
        "segment_id": w.get("segment_id"), "channel": "email",
        "notify_channel_id": w.get("email_channel_id")})["id"]


def _schedule(w: World) -> str:
    return w.post("/api/v1/schedules", {
        "name": w.name("schedule"), "survey_id": w.get("survey_id"),
        "segment_id": w.get("segment_id"), "channel": "email",
        "notify_channel_id": w.get("email_channel_id"), "every_unit": "month",
        "every_count": 3})["id"]


def _trigger(w: World) -> str:
    return w.post("/api/v1/trigger-rules", {
        "name": w.name("trigger"), "event_name": "order_paid",
        "survey_id": w.get("survey_id"), "channel": "email"})["id"]


def _site_key(w: World) -> str:
    return w.post("/api/v1/widget/site-keys", {
        "name": w.name("site"), "allowed_origins": ["https://shop.example.test"]})["id"]


def _dashboard(w: World) -> str:
    return w.post("/api/v1/dashboards", {
        "name": w.name("dashboard"), "widgets": [{"kind": "scorecard"}]})["id"]


def _dashboard_widget(w: World) -> str:
    added = w.post(f"/api/v1/dashboards/{w.get('dashboard_id')}/widgets", {"kind": "scorecard"})
    return added["id"] if "id" in added else added["widgets"][-1]["id"]


def _digest(w: World) -> str:
    return w.post("/api/v1/digests", {
        "name": w.name("digest"), "frequency": "weekly", "weekday": 0, "hour": 8,
        "language": "en", "recipients": ["cx@example.test"],
        "channel_id": w.get("email_channel_id")})["id"]


def _digest_run(w: World) -> str:
    from npsloop.core.db import utcnow
    from npsloop.reports.models import DigestRun

    now = utcnow()
    run = DigestRun(digest_id=w.get("digest_id"), org_id=_org_id(w),
                    period_key=f"t{uuid.uuid4().hex[:10]}", period_from=now, period_to=now,
                    status="failed")
    w.db.add(run)
    w.db.commit()
    return run.id


def _winback(w: World) -> str:
    from npsloop.outcomes.models import WinbackCampaign

    campaign = WinbackCampaign(org_id=_org_id(w), name=w.name("winback"), min_risk=0.5)
    w.db.add(campaign)
    w.db.commit()
    return campaign.id


PARAM_FACTORIES: dict[str, Callable[[World], str]] = {
    "survey_id": _survey,
    "token": _token,
    "external_id": _contact_external_id,
    "contact_id": _contact_id,
    "response_id": _response,
    "segment_id": _segment,
    "ticket_id": _ticket,
    "rule_id": _rule,
    "team_id": _team,
    "plan_id": _plan,
    "task_id": _task,
    "channel_id": _channel,
    "endpoint_id": _endpoint,
    "message_id": _message,
    "topic_id": _topic,
    "key": _attribute_key,
    "import_id": _import,
    "code": _code,
    "key_id": _api_key,
    "email_channel_id": _email_channel,
    "campaign_id": _campaign,
    "schedule_id": _schedule,
    "trigger_id": _trigger,
    "site_key_id": _site_key,
    "dashboard_id": _dashboard,
    "widget_id": _dashboard_widget,
    "digest_id": _digest,
    "run_id": _digest_run,
    "winback_id": _winback,
    # Not an object: the verb of /notify/webhooks/{endpoint_id}/{action}.
    "action": lambda _w: "disable",
    # The secret of an SMS channel's delivery-receipt URL (public route; any value).
    "receipt_token": lambda _w: uuid.uuid4().hex,
}
