"""The ticket pages as a signed-in person sees them: inbox, ticket, metrics, rules; forms
with the CSRF token; both languages without raw keys; roles and organisations."""

from __future__ import annotations

import re

from sqlalchemy import select

from npsloop.tickets.models import Ticket

from .conftest import drain, make_rule, post_response

DETRACTOR = [{"field": "category", "values": ["detractor"]}]


def login(client, email, password="password-123"):
    r = client.post("/login", data={"email": email, "password": password, "next": "/"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def seeded(client, org, survey, db, db_factory):
    make_rule(client, org, DETRACTOR, {"ticket": {"priority": "P1"}, "tags": ["late"]})
    post_response(client, org, survey["id"], 2, "快递太慢了，三天才到",
                  contact={"external_id": "c-7", "attributes": {"city": "上海"}})
    post_response(client, org, survey["id"], 9, "earlier answer",
                  contact={"external_id": "c-7"})
    drain(db_factory)
    return db.scalar(select(Ticket).where(Ticket.org_id == org.org_id))


def test_inbox_ticket_metrics_and_rules_in_both_languages(client, org, survey, db,
                                                          db_factory):
    ticket = seeded(client, org, survey, db, db_factory)
    login(client, org.owner_email)
    for lang in ("zh-CN", "en"):
        for url in ("/tickets?scope=all", f"/tickets/{ticket.id}", "/tickets/metrics",
                    "/tickets/rules"):
            r = client.get(url, params={"lang": lang})
            assert r.status_code == 200, (url, r.text[:300])
            assert "tickets." not in re.sub(r'(href|src|action)="[^"]*"', "", r.text), url
    inbox = client.get("/tickets?scope=all&lang=en").text
    assert f"#{ticket.number}" in inbox and "快递太慢了" in inbox and "P1" in inbox
    page = client.get(f"/tickets/{ticket.id}?lang=zh-CN").text
    assert "快递太慢了，三天才到" in page and "earlier answer" in page and "#late" in page
    assert "上海" in page and "配送物流" in page  # contact attribute, topic in Chinese
    assert "贬损者" in page


def test_forms_work_the_ticket(client, org, survey, db, db_factory):
    ticket = seeded(client, org, survey, db, db_factory)
    login(client, org.owner_email)
    token = csrf(client.get(f"/tickets/{ticket.id}").text)
    url = f"/tickets/{ticket.id}"
    r = client.post(url, data={"csrf_token": token, "action": "comment", "body": "on it"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("notice=saved")
    r = client.post(url, data={"csrf_token": token, "action": "status", "status": "resolved"})
    assert r.status_code == 422 and "resolution_category" in r.text
    r = client.post(url, data={"csrf_token": token, "action": "status", "status": "resolved",
                               "resolution_category": "delivery"}, follow_redirects=False)
    assert r.status_code == 303
    r = client.post(url, data={"action": "note", "body": "x"})  # no CSRF token
    assert r.status_code == 403
    db.expire_all()
    ticket = db.get(Ticket, ticket.id)
    assert ticket.status == "resolved" and ticket.first_responded_at is not None
    r = client.post("/tickets/bulk", data={"csrf_token": token, "action": "close",
                                           "ticket_ids": [ticket.id], "back": "/tickets"},
                    follow_redirects=False)
    assert r.status_code == 303 and "bulk_done%3A1" in r.headers["location"]
    db.expire_all()
    assert db.get(Ticket, ticket.id).status == "closed"


def test_page_roles_and_isolation(client, org, make_org, survey, db, db_factory, make_user):
    ticket = seeded(client, org, survey, db, db_factory)
    viewer = make_user(org.org_id, "viewer")
    login(client, viewer)
    assert client.get("/tickets").status_code == 403
    assert client.get(f"/tickets/{ticket.id}").status_code == 403
    assert client.get("/tickets/metrics").status_code == 200
    agent = make_user(org.org_id, "agent")
    login(client, agent)
    assert client.get("/tickets").status_code == 200  # "my tickets": empty but fine
    assert client.get(f"/tickets/{ticket.id}").status_code == 200
    other = make_org("Other")
    login(client, other.owner_email)
    assert client.get(f"/tickets/{ticket.id}").status_code == 404
    assert f"#{ticket.number} " not in client.get("/tickets?scope=all").text
    client.cookies.clear()
    r = client.get("/tickets", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
