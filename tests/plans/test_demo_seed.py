"""The demo's plans and referral activity: idempotent, visible effects, a working funnel."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from npsloop.demo.seed import seed_demo
from npsloop.plans import effect, service
from npsloop.plans.demo import seed_demo_plans_and_referrals
from npsloop.referrals import funnel
from npsloop.referrals.models import ReferralCode, ReferralConversion, ReferralVisit

RESPONSES = 6000


def test_demo_plans_and_referrals(db_factory):
    # Anchored to today: "recent promoters" and plan windows are relative to now.
    # seed_demo runs seed_demo_plans_and_referrals itself; its result is in the info.
    info = seed_demo(db_factory, responses=RESPONSES, today=date.today(), analyse_text=False)
    org_id = info["org_id"]
    with db_factory() as session:
        first = info["plans_and_referrals"]
        assert first["plans"] == 8 and first["referral_codes"] > 50
        assert first["referral_conversions"] > 0 and first["lifecycle_moves"] > 0
        again = seed_demo_plans_and_referrals(session, org_id)
        assert again == {"plans": 0, "referral_codes": 0}
        assert session.scalar(select(func.count()).select_from(ReferralCode).where(
            ReferralCode.org_id == org_id)) == first["referral_codes"]

        verdicts = {}
        for plan in service.list_plans(session, org_id=org_id):
            result = effect.plan_effect(session, plan, tz="Asia/Shanghai", min_n=30,
                                        detail=False)
            verdicts[plan.title.split(" · ")[1]] = result
        courier = verdicts["Switch the East China cold-chain courier"]
        assert courier["verdict"] == "improved" and courier["difference"] > 10
        assert verdicts["Hotfix the checkout crash"]["verdict"] == "improved"
        assert verdicts["Summer cold packs for fresh produce"]["verdict"] == "not_started"
        assert verdicts["Price messaging after the brand benchmark"]["verdict"] == (
            "too_little_data")

        steps = funnel.funnel(session, org_id, None, None)
        assert steps["asked"] == first["referral_codes"]
        assert 0 < steps["shared"] < steps["asked"]
        assert steps["conversions"] == first["referral_conversions"]
        assert steps["flagged_visits"] == 12  # the demo's one burst
        assert session.scalar(select(func.count()).select_from(ReferralVisit).where(
            ReferralVisit.org_id == org_id, ReferralVisit.flagged.is_(True))) == 12
        # Every conversion's customer joined after their referrer was asked, and no one
        # referred themself.
        for conversion, code in session.execute(
                select(ReferralConversion, ReferralCode).join(
                    ReferralCode, ReferralCode.id == ReferralConversion.code_id)
                .where(ReferralConversion.org_id == org_id)):
            assert conversion.customer_external_id != code.referrer_external_id
            assert conversion.converted_at > code.created_at - timedelta(seconds=1)
