"""The widget's public calls end to end over HTTP: identify, track (event stored, decision
asked), shown, answer (partial then complete, retried), dismissed, the recontact window,
delayed invitations, languages."""

from __future__ import annotations

from sqlalchemy import func, select

from npsloop.contacts.models import Contact, Event
from npsloop.distribution import service as distribution
from npsloop.distribution.models import Invitation
from npsloop.responses.models import Response
from npsloop.surveys.models import Question
from npsloop.targeting.models import DecisionLog


def _invitation(db, ticket: str) -> Invitation:
    db.expire_all()
    return db.get(Invitation, ticket.partition(".")[0])


def test_track_shows_answer_counts_once_and_window_refuses_the_next(db, site, call):
    identified = call(site, "identify", {"user_id": "u-1", "attributes": {
        "plan": "pro", "email": "Ann@Example.com", "visits": 3}, "lang": "en"})
    assert identified.status_code == 200, identified.text
    assert identified.json() == {"show": False, "refusals": []}
    assert identified.headers["access-control-allow-origin"] == "https://shop.example.test"
    contact = db.scalar(select(Contact).where(Contact.org_id == site.org_id,
                                              Contact.external_id == "u-1"))
    assert contact.email == "Ann@example.com"  # contacts lowercases the domain only
    assert contact.attributes == {"plan": "pro", "visits": 3}

    tracked = call(site, "track", {"user_id": "u-1", "event": "order_paid",
                                   "properties": {"amount": 120}, "event_id": "w:1",
                                   "lang": "en"})
    assert tracked.status_code == 200, tracked.text
    offer = tracked.json()
    assert offer["show"] is True and offer["delay_seconds"] == 0
    survey = offer["survey"]
    assert survey["language"] == "en" and survey["token"] == site.survey_token
    assert survey["question"].startswith("How likely are you to recommend")
    assert survey["followup"]["promoter"] == "Great! What do you like most about us?"
    assert survey["texts"]["not_likely"] == "Not at all likely"
    event = db.scalar(select(Event).where(Event.contact_id == contact.id))
    assert (event.name, event.source, event.properties) == ("order_paid", "widget",
                                                             {"amount": 120})
    ticket = offer["ticket"]
    assert _invitation(db, ticket).status == "scheduled"

    assert call(site, "shown", {"ticket": ticket}).json() == {"status": "opened"}
    partial = call(site, "answer", {"ticket": ticket, "score": 9, "complete": False,
                                    "lang": "en"})
    assert partial.status_code == 200, partial.text
    assert partial.json()["status"] == "partial"
    assert _invitation(db, ticket).status == "started"
    done = call(site, "answer", {"ticket": ticket, "score": 9, "comment": " Fast checkout ",
                                 "lang": "en"})
    again = call(site, "answer", {"ticket": ticket, "score": 9, "comment": "Fast checkout"})
    assert done.status_code == again.status_code == 200
    assert done.json()["response_id"] == again.json()["response_id"]
    rows = db.scalars(select(Response).where(Response.survey_id == site.survey_id)).all()
    assert len(rows) == 1
    saved = rows[0]
    assert (saved.channel, saved.contact_id, saved.score, saved.comment, saved.status,
            saved.category, saved.language) == ("widget", contact.id, 9, "Fast checkout",
                                                "complete", "promoter", "en")
    invitation = _invitation(db, ticket)
    assert (invitation.status, invitation.response_id) == ("completed", saved.id)
    assert invitation.opened_at is not None and invitation.completed_at is not None
    # Shown again after the answer: nothing moves back.
    assert call(site, "shown", {"ticket": ticket}).json() == {"status": "completed"}

    second = call(site, "track", {"user_id": "u-1", "event": "order_paid", "event_id": "w:2"})
    assert second.json() == {"show": False, "refusals": ["recontact_window"]}
    assert db.scalar(select(func.count()).select_from(Invitation).where(
        Invitation.contact_id == contact.id)) == 1
    logged = db.scalars(select(DecisionLog.rule).where(
        DecisionLog.contact_id == contact.id).order_by(DecisionLog.created_at)).all()
    assert logged == [None, "recontact_window"]


def test_resent_event_id_is_stored_once_and_untriggered_events_are_refused(db, site, call):
    answer = call(site, "track", {"user_id": "u-5", "event": "login"}).json()
    assert answer == {"show": False, "refusals": ["no_trigger"]}
    for _ in range(2):
        call(site, "track", {"user_id": "u-2", "event": "page_view", "event_id": "w:same"})
    contact = db.scalar(select(Contact).where(Contact.external_id == "u-2",
                                              Contact.org_id == site.org_id))
    assert db.scalar(select(func.count()).select_from(Event).where(
        Event.contact_id == contact.id)) == 1


def test_dismiss_is_recorded_counts_for_fatigue_and_blocks_an_answer(db, site, call):
    offer = call(site, "track", {"user_id": "u-3", "event": "order_paid"}).json()
    ticket = offer["ticket"]
    call(site, "shown", {"ticket": ticket})
    dismissed = call(site, "dismissed", {"ticket": ticket})
    assert dismissed.json() == {"status": "dismissed"}
    invitation = _invitation(db, ticket)
    assert invitation.status == "dismissed" and invitation.dismissed_at is not None
    late = call(site, "answer", {"ticket": ticket, "score": 3})
    assert late.status_code == 409
    assert "dismissed" in late.json()["detail"]
    # The dismissed invitation was contact: the next event is refused, and the dismissed one
    # is not shown again on the next page either.
    again = call(site, "track", {"user_id": "u-3", "event": "order_paid"}).json()
    assert again == {"show": False, "refusals": ["recontact_window"]}
    assert call(site, "identify", {"user_id": "u-3"}).json()["show"] is False


def test_delayed_invitation_waits_and_is_offered_again_on_the_next_page(make_site, call):
    site = make_site(delay_seconds=90)
    offer = call(site, "track", {"user_id": "u-4", "event": "order_paid"}).json()
    assert offer["show"] is True and 85 <= offer["delay_seconds"] <= 91
    # The visitor moves to another page before the delay is over: identify offers it again.
    later = call(site, "identify", {"user_id": "u-4"}).json()
    assert later["show"] is True and later["ticket"] == offer["ticket"]
    assert 0 < later["delay_seconds"] <= 91


def test_chinese_visitor_gets_the_chinese_wording(db, site, call):
    offer = call(site, "track", {"user_id": "u-6", "event": "order_paid",
                                 "lang": "zh"}).json()
    survey = offer["survey"]
    assert survey["language"] == "zh-CN"
    assert survey["question"] == "您有多大可能向朋友或同事推荐我们?"
    assert survey["followup"]["detractor"] == "很抱歉让您失望了。主要是哪些方面没有做好?"
    assert survey["texts"]["submit"] == "提交"
    answered = call(site, "answer", {"ticket": offer["ticket"], "score": 4, "lang": "zh-CN",
                                     "comment": "物流太慢"})
    assert answered.json()["language"] == "zh-CN"
    assert answered.json()["category"] == "detractor"


def test_accept_language_decides_without_a_lang_option(client, site):
    response = client.post(site.url("track"), content=b'{"user_id": "u-7", "event": '
                           b'"order_paid"}', headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert response.json()["survey"]["language"] == "zh-CN"


def test_follow_up_follows_the_surveys_skip_logic(db, site, call):
    followup = db.scalar(select(Question).where(Question.survey_id == site.survey_id,
                                                Question.kind == "open_followup"))
    followup.show_if_categories = ["detractor"]
    followup.required = True
    db.commit()
    survey = call(site, "track", {"user_id": "u-8", "event": "order_paid",
                                  "lang": "en"}).json()["survey"]
    assert list(survey["followup"]) == ["detractor"]
    assert survey["followup_required"] is True
    assert survey["texts"]["required"] == "Please write a few words before sending."


def test_invitation_a_server_side_trigger_scheduled_is_shown_on_the_next_page(db, site, call):
    """An event sent by the customer's server (not the widget) made a trigger schedule a
    widget invitation: the visitor's next page load (identify) shows it."""
    assert call(site, "identify", {"user_id": "u-10"}).json()["show"] is False
    contact = db.scalar(select(Contact).where(Contact.org_id == site.org_id,
                                              Contact.external_id == "u-10"))
    scheduled = distribution.create_invitation(
        db, org_id=site.org_id, survey_id=site.survey_id, contact_id=contact.id,
        channel="widget", source="trigger")
    db.commit()
    offer = call(site, "identify", {"user_id": "u-10", "lang": "en"}).json()
    assert offer["show"] is True
    assert offer["ticket"].partition(".")[0] == scheduled.id
    call(site, "dismissed", {"ticket": offer["ticket"]})
    assert call(site, "identify", {"user_id": "u-10"}).json()["show"] is False
