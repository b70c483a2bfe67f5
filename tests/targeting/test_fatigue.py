"""Each fatigue rule on a real database with a controlled clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from npsloop.distribution import service as distribution
from npsloop.distribution.models import Unsubscribe
from npsloop.targeting import fatigue, policy
from tests.targeting.helpers import answered, make_contact, make_survey, set_policy

NOW = datetime(2026, 12, 4, 6, 0, tzinfo=UTC)  # 14:00 in Asia/Shanghai


def rules(refusals: list[fatigue.Refusal]) -> list[str]:
    return [r.rule for r in refusals]


def invite(db, org_id, survey_id, contact_id, at, channel="email", status=None):
    invitation = distribution.create_invitation(
        db, org_id=org_id, survey_id=survey_id, contact_id=contact_id, channel=channel,
        source="campaign", send_at=at)
    if status:
        invitation.status = status
        if status == "sent":
            invitation.sent_at = at
    db.commit()
    return invitation


def test_fresh_contact_may_be_invited(db, org):
    survey = make_survey(db, org.org_id)
    contact = make_contact(db, org.org_id, "c1", email="c1@example.test")
    assert fatigue.check(db, org_id=org.org_id, contact_id=contact, survey_id=survey,
                         channel="email", now=NOW) == []


def test_recontact_window_counts_invitations_and_responses_of_any_survey(db, org):
    first, second = make_survey(db, org.org_id, "A"), make_survey(db, org.org_id, "B")
    invited = make_contact(db, org.org_id, "inv", email="i@example.test")
    responded = make_contact(db, org.org_id, "resp", email="r@example.test")
    invite(db, org.org_id, first, invited, NOW - timedelta(days=29), status="sent")
    answered(db, org.org_id, first, responded, NOW - timedelta(days=10))
    for contact in (invited, responded):
        found = fatigue.check(db, org_id=org.org_id, contact_id=contact, survey_id=second,
                              channel="email", now=NOW)
        assert rules(found) == ["recontact_window"]
        assert found[0].params["days"] == 30
    # One day later the invitation is 30 days old: outside the window.
    assert fatigue.check(db, org_id=org.org_id, contact_id=invited, survey_id=second,
                         channel="email", now=NOW + timedelta(days=1, seconds=1)) == []
    message = fatigue.check(db, org_id=org.org_id, contact_id=responded, survey_id=second,
                            channel="email", now=NOW, language="zh-CN")[0].message
    assert "30 天" in message and "2026-11-24" in message


def test_failed_and_expired_invitations_do_not_count(db, org):
    survey = make_survey(db, org.org_id)
    contact = make_contact(db, org.org_id, "c", email="c@example.test")
    invite(db, org.org_id, survey, contact, NOW - timedelta(days=2), status="failed")
    stale = invite(db, org.org_id, survey, contact, NOW - timedelta(days=3), channel="widget")
    stale.expires_at = NOW - timedelta(days=1)
    db.commit()
    assert fatigue.check(db, org_id=org.org_id, contact_id=contact, survey_id=survey,
                         channel="email", now=NOW) == []
    # A scheduled invitation not yet sent does count: a second one would double up.
    invite(db, org.org_id, survey, contact, NOW + timedelta(days=2))
    assert rules(fatigue.check(db, org_id=org.org_id, contact_id=contact, survey_id=survey,
                               channel="email", now=NOW)) == ["recontact_window"]


def test_per_survey_override_replaces_the_window(db, org):
    relationship, touchpoint = make_survey(db, org.org_id, "R"), make_survey(db, org.org_id, "T")
    contact = make_contact(db, org.org_id, "c", email="c@example.test")
    answered(db, org.org_id, relationship, contact, NOW - timedelta(days=10))
    policy.save_override(db, org_id=org.org_id, survey_id=touchpoint, recontact_days=7,
                         sampling_percent=None)
    db.commit()
    assert fatigue.check(db, org_id=org.org_id, contact_id=contact, survey_id=touchpoint,
                         channel="email", now=NOW) == []
    found = fatigue.check(db, org_id=org.org_id, contact_id=contact, survey_id=relationship,
                          channel="email", now=NOW)
    assert rules(found) == ["recontact_window"] and found[0].params["source"] == "organization"
    policy.save_override(db, org_id=org.org_id, survey_id=touchpoint, recontact_days=14,
                         sampling_percent=None)
    found = fatigue.check(db, org_id=org.org_id, contact_id=contact, survey_id=touchpoint,
                          channel="email", now=NOW)
    assert found[0].params == found[0].params | {"days": 14, "source": "survey"}


def test_cap_per_period(db, org):
    set_policy(db, org.org_id, recontact_days=0, cap_count=2, cap_days=90)
    survey = make_survey(db, org.org_id)
    contact = make_contact(db, org.org_id, "c", email="c@example.test")
    invite(db, org.org_id, survey, contact, NOW - timedelta(days=80), status="sent")
    assert fatigue.check(db, org_id=org.org_id, contact_id=contact, survey_id=survey,
                         channel="email", now=NOW) == []
    invite(db, org.org_id, survey, contact, NOW - timedelta(days=5), status="sent")
    found = fatigue.check(db, org_id=org.org_id, contact_id=contact, survey_id=survey,
                          channel="email", now=NOW)
    assert rules(found) == ["invitation_cap"]
    assert found[0].params == {"count": 2, "cap": 2, "days": 90}
    # The older invitation leaves the 90-day period: one in the period, below the cap.
    assert fatigue.check(db, org_id=org.org_id, contact_id=contact, survey_id=survey,
                         channel="email", now=NOW + timedelta(days=11)) == []


QUIET_CASES = [("21:59", False), ("22:00", True), ("23:59", True), ("00:00", True),
               ("07:59", True), ("08:00", False), ("14:00", False)]


def test_quiet_hours_across_midnight_in_shanghai(db, org):
    set_policy(db, org.org_id, quiet_start="22:00", quiet_end="08:00")
    survey = make_survey(db, org.org_id)
    contact = make_contact(db, org.org_id, "c", email="c@example.test", phone="+8613800000000")
    for local, quiet in QUIET_CASES:
        hours, minutes = map(int, local.split(":"))
        # Asia/Shanghai is UTC+8: 2026-12-04 local -> UTC.
        at = datetime(2026, 12, 4, hours, minutes, tzinfo=UTC) - timedelta(hours=8)
        found = fatigue.check(db, org_id=org.org_id, contact_id=contact, survey_id=survey,
                              channel="sms", now=at)
        assert rules(found) == (["quiet_hours"] if quiet else []), local
        # The widget is shown to someone who is on the site right now: no quiet hours.
        assert fatigue.check(db, org_id=org.org_id, contact_id=contact, survey_id=survey,
                             channel="widget", now=at) == []
        shifted = fatigue.next_allowed_send(db, org_id=org.org_id, at=at)
        if quiet:
            morning = datetime(2026, 12, 5 if hours >= 22 else 4, 0, 0, tzinfo=UTC)
            assert shifted == morning, local  # 08:00 Shanghai
            assert "08:00" in found[0].params["next_allowed"]
        else:
            assert shifted == at, local


def test_sampling_share_and_determinism(db, org):
    set_policy(db, org.org_id, sampling_percent=25)
    survey = make_survey(db, org.org_id)
    from npsloop.targeting.policy import effective_policy
    effective = effective_policy(db, org_id=org.org_id, survey_id=survey)
    ids = [f"{i:032x}" for i in range(2000)]
    # A fixed survey id keeps the draw (and so the test) the same on every run.
    picked = [fatigue.sampled_in(effective, survey_id="fixed-survey", contact_id=c, now=NOW)[0]
              for c in ids]
    share = sum(picked) / len(picked)
    assert 0.22 <= share <= 0.28, share  # 25% +- 3 points (binomial sd is ~1 point)
    again = [fatigue.sampled_in(effective, survey_id="fixed-survey", contact_id=c,
                                now=NOW + timedelta(days=3))[0] for c in ids]
    assert again == picked  # same month: retries never re-roll
    next_month = [fatigue.sampled_in(effective, survey_id="fixed-survey", contact_id=c,
                                     now=NOW + timedelta(days=30))[0] for c in ids]
    assert next_month != picked  # a new month is a new draw
    other_survey = [fatigue.sampled_in(effective, survey_id="another", contact_id=c,
                                       now=NOW)[0] for c in ids]
    assert other_survey != picked
    # Through check() on real contacts: the refusal names the share and the month.
    contact = make_contact(db, org.org_id, "s", email="s@example.test")
    excluded = not fatigue.sampled_in(effective, survey_id=survey, contact_id=contact,
                                      now=NOW)[0]
    found = fatigue.check(db, org_id=org.org_id, contact_id=contact, survey_id=survey,
                          channel="email", now=NOW)
    assert (rules(found) == ["sampling"]) == excluded
    if excluded:
        assert found[0].params == {"percent": "25", "period": "2026-12"}


def test_unsubscribed_no_address_inactive_survey(db, org):
    live, draft = make_survey(db, org.org_id, "Live"), make_survey(db, org.org_id, "D", "draft")
    contact = make_contact(db, org.org_id, "c", email="c@example.test")
    db.add(Unsubscribe(org_id=org.org_id, contact_id=contact, channel="email"))
    db.commit()
    assert rules(fatigue.check(db, org_id=org.org_id, contact_id=contact, survey_id=live,
                               channel="email", now=NOW)) == ["unsubscribed"]
    assert rules(fatigue.check(db, org_id=org.org_id, contact_id=contact, survey_id=live,
                               channel="sms", now=NOW)) == ["no_address"]
    assert rules(fatigue.check(db, org_id=org.org_id, contact_id=contact, survey_id=draft,
                               channel="widget", now=NOW)) == ["survey_inactive"]


def test_other_organisations_data_is_invisible(db, make_org):
    mine, theirs = make_org("Mine"), make_org("Theirs")
    survey = make_survey(db, mine.org_id)
    their_survey = make_survey(db, theirs.org_id)
    contact = make_contact(db, mine.org_id, "c", email="c@example.test")
    assert rules(fatigue.check(db, org_id=theirs.org_id, contact_id=contact,
                               survey_id=their_survey, channel="email",
                               now=NOW)) == ["unknown_contact"]
    assert rules(fatigue.check(db, org_id=mine.org_id, contact_id=contact,
                               survey_id=their_survey, channel="email",
                               now=NOW)) == ["unknown_survey"]
    # Their policy (cap of one in a year) does not apply to us.
    set_policy(db, theirs.org_id, cap_count=1, cap_days=365, recontact_days=0)
    set_policy(db, mine.org_id, recontact_days=0)
    invite(db, mine.org_id, survey, contact, NOW - timedelta(days=1), status="sent")
    assert fatigue.check(db, org_id=mine.org_id, contact_id=contact, survey_id=survey,
                         channel="email", now=NOW) == []


def test_check_many_answers_like_check_for_every_contact(db, org, make_org):
    from npsloop.targeting.fatigue_bulk import check_many

    set_policy(db, org.org_id, recontact_days=20, sampling_percent=60, cap_count=2,
               cap_days=120, quiet_start="13:00", quiet_end="15:00")  # NOW is 14:00 local
    survey, other = make_survey(db, org.org_id, "S"), make_survey(db, org.org_id, "O")
    ids = []
    for i in range(24):
        contact = make_contact(db, org.org_id, f"m{i}",
                               **({"email": f"m{i}@example.test"} if i % 5 else {}))
        ids.append(contact)
        if i % 3 == 0:
            invite(db, org.org_id, other, contact, NOW - timedelta(days=5 + i), status="sent")
        if i % 4 == 0:
            invite(db, org.org_id, other, contact, NOW - timedelta(days=60), status="sent")
            invite(db, org.org_id, other, contact, NOW - timedelta(days=90), status="sent")
        if i % 7 == 0:
            answered(db, org.org_id, survey, contact, NOW - timedelta(days=i))
        if i % 6 == 1:
            db.add(Unsubscribe(org_id=org.org_id, contact_id=contact, channel="all"))
    db.commit()
    stranger = make_contact(db, make_org("Other").org_id, "x")
    wanted = [*ids, stranger]
    bulk = check_many(db, org_id=org.org_id, contact_ids=wanted, survey_id=survey,
                      channel="email", now=NOW, language="zh-CN")
    one_by_one = {cid: fatigue.check(db, org_id=org.org_id, contact_id=cid, survey_id=survey,
                                     channel="email", now=NOW, language="zh-CN")
                  for cid in wanted}
    assert {k: [r.as_dict() for r in v] for k, v in bulk.items()} == \
        {k: [r.as_dict() for r in v] for k, v in one_by_one.items()}
    seen = {r.rule for refusals in bulk.values() for r in refusals}
    assert seen >= {"recontact_window", "invitation_cap", "unsubscribed", "no_address",
                    "quiet_hours", "unknown_contact", "sampling"}
