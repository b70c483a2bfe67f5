"""Demo action plans for the FreshGo workspace, placed where the demo's story moves NPS.

The demo year (demo/timeline.py, days counted back from the day after the last response):
the East China delivery crisis runs 235-145 days ago and starts to recover ~170 days ago; a
crashing app release hurts checkout 80-59 days ago and a hotfix lands ~70 days ago; customer
service improves all year. The plans start where those recoveries begin, so their effect
views show significant rises; one plan starts next week (not started) and one links to the
paused brand survey (too little data).

`seed_demo_plans_and_referrals(session, org_id)` is what the demo seeder calls: plans here,
referrals and lifecycle moves in referrals/demo.py. Idempotent: a second call adds nothing.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from npsloop.accounts.models import Organization
from npsloop.contacts.models import Segment
from npsloop.plans.models import ActionPlan, PlanTask
from npsloop.responses.models import Response
from npsloop.surveys.models import Survey

DEMO_ACTOR = "npsloop demo"
VIP_SEGMENT = "VIP 会员 · VIP members"


def demo_anchor(session: Session, org_id: str) -> date | None:
    """The demo's "today": the local day after the organisation's last response."""
    last = session.scalar(select(func.max(Response.submitted_at)).where(
        Response.org_id == org_id))
    if last is None:
        return None
    org = session.get(Organization, org_id)
    tz = ZoneInfo(org.timezone if org else "Asia/Shanghai")
    return last.astimezone(tz).date() + timedelta(days=1)


def _survey_id(session: Session, org_id: str, **where: str) -> str | None:
    query = select(Survey.id).where(Survey.org_id == org_id)
    for name, value in where.items():
        query = query.where(getattr(Survey, name) == value)
    return session.scalar(query.order_by(Survey.created_at))


def _vip_segment(session: Session, org_id: str) -> str | None:
    found = session.scalar(select(Segment.id).where(Segment.org_id == org_id,
                                                    Segment.name == VIP_SEGMENT))
    if found:
        return found
    from npsloop.contacts.segments import create_segment

    rules = {"match": "all", "conditions": [
        {"field": "tags", "operator": "has_any", "value": ["vip"]}]}
    try:
        return create_segment(session, org_id=org_id, name=VIP_SEGMENT, rules=rules,
                              description="VIP 标签的会员 · Members tagged vip",
                              created_by=DEMO_ACTOR).id
    except Exception:  # noqa: BLE001 - the segment is a nice-to-have for the demo
        return None


def _plans(anchor: date, refs: dict[str, str | None]) -> list[dict[str, Any]]:
    def day(days_ago: int) -> date:
        return anchor - timedelta(days=days_ago)

    return [
        {"title": "华东冷链配送商切换 · Switch the East China cold-chain courier",
         "description": "仓库迁移后新冷链配送商频繁延误。更换配送商、增加上海/杭州夜间分拣班次,"
                        "并为迟到订单自动补偿优惠券。\nAfter the warehouse migration the new "
                        "cold-chain courier ran late. Switch courier, add night sorting shifts in "
                        "Shanghai and Hangzhou, and auto-compensate late orders with a coupon.",
         "owner": "王强 Wang Qiang", "status": "done", "start": day(172), "end": day(120),
         "target": 35.0, "kind": "touchpoint", "value": "delivery", "before": 60, "after": 60,
         "tasks": [("签订新配送商合同 · Sign the new courier contract", True, day(180)),
                   ("夜间分拣班次上线 · Start night sorting shifts", True, day(172)),
                   ("迟到自动补券 · Auto coupon for late orders", True, day(165)),
                   ("复盘配送时效 · Review on-time rate", True, day(125))]},
        {"title": "配送评分提升:准时与包装 · Delivery rating: on time and well packed",
         "description": "跟踪「配送速度」评分:保温袋升级、预计送达时间精确到 30 分钟。\nTrack the "
                        "delivery rating: better cool bags, 30-minute delivery windows.",
         "owner": "李娜 Li Na", "status": "in_progress", "start": day(160), "end": None,
         "target": None, "kind": "driver", "value": "delivery", "before": 60, "after": 90,
         "tasks": [("保温袋供应商招标 · Tender for cool bags", True, day(150)),
                   ("送达时间窗口 30 分钟 · 30-minute delivery windows", True, day(120)),
                   ("司机包装培训 · Packing training for drivers", False, day(-14))]},
        {"title": "结账闪退热修复 · Hotfix the checkout crash",
         "description": "3.8.0 版本在支付页闪退。回滚支付 SDK 并发布 3.8.1 热修复。\nRelease 3.8.0 "
                        "crashed at payment. Roll back the payment SDK and ship hotfix 3.8.1.",
         "owner": "周敏 Zhou Min", "status": "done", "start": day(70), "end": day(60),
         "target": 40.0, "kind": "touchpoint", "value": "checkout", "before": 10, "after": 21,
         "tasks": [("回滚支付 SDK · Roll back the payment SDK", True, day(71)),
                   ("发布 3.8.1 · Ship 3.8.1", True, day(70)),
                   ("受影响用户补偿 · Compensate affected users", True, day(64))]},
        {"title": "客服话术与授权培训 · Coach service agents and widen their authority",
         "description": "客服可直接退款 50 元以内;每周话术复盘。\nAgents may refund up to ¥50 "
                        "on the spot; weekly call reviews.",
         "owner": "王强 Wang Qiang", "status": "in_progress", "start": day(120), "end": None,
         "target": 10.0, "kind": "survey", "value": refs.get("service"), "before": 90,
         "after": 90, "tasks": [("授权规则上线 · Refund authority live", True, day(118)),
                                ("每周话术复盘 · Weekly call reviews", False, None)]},
        {"title": "VIP 当日达 · Same-day delivery for VIP members",
         "description": "VIP 会员在 6 个城市享受当日达。\nSame-day delivery for VIP members "
                        "in six cities.",
         "owner": "李娜 Li Na", "status": "in_progress", "start": day(150), "end": None,
         "target": 50.0, "kind": "segment", "value": refs.get("vip"), "before": 90,
         "after": 90, "tasks": [("上线 6 城 · Launch in 6 cities", True, day(150))]},
        {"title": "会员价标签改版 · Clearer member-price labels",
         "description": "商品页同时展示原价与会员价。结果:价格评分带动的 NPS 没有显著变化,"
                        "价格本就不是主要驱动因素。\nShow the list and member price side by side. "
                        "NPS of customers rating price did not move: price is a weak driver.",
         "owner": "周敏 Zhou Min", "status": "done", "start": day(200), "end": day(180),
         "target": 40.0, "kind": "driver", "value": "price", "before": 60, "after": 60,
         "tasks": [("设计新标签 · Design the new labels", True, day(210)),
                   ("全站上线 · Roll out site-wide", True, day(200))]},
        {"title": "品牌基准调研后的价格沟通 · Price messaging after the brand benchmark",
         "description": "在品牌调研中解释会员价。\nExplain member prices in the brand "
                        "benchmark survey.",
         "owner": "周敏 Zhou Min", "status": "in_progress", "start": day(3), "end": None,
         "target": None, "kind": "survey", "value": refs.get("strategic"), "before": 90,
         "after": 90, "tasks": [("更新调研说明 · Update the survey intro", True, day(3))]},
        {"title": "夏季生鲜保温升级 · Summer cold packs for fresh produce",
         "description": "7-8 月高温导致生鲜变质投诉,提前备好冰袋。\nHeat in July and August "
                        "spoils produce; stock ice packs early.",
         "owner": "李娜 Li Na", "status": "planned", "start": day(-10), "end": day(-70),
         "target": 30.0, "kind": "driver", "value": "quality", "before": 90, "after": 90,
         "tasks": [("冰袋采购 · Buy ice packs", False, day(-5))]},
    ]


def seed_demo_plans(session: Session, org_id: str) -> int:
    """Adds the demo plans once; returns how many were added."""
    if session.scalar(select(ActionPlan.id).where(ActionPlan.org_id == org_id,
                                                  ActionPlan.created_by == DEMO_ACTOR)):
        return 0
    anchor = demo_anchor(session, org_id)
    if anchor is None:
        return 0
    refs = {"service": _survey_id(session, org_id, touchpoint="customer_service"),
            "strategic": _survey_id(session, org_id, nps_type="strategic"),
            "vip": _vip_segment(session, org_id)}
    added = 0
    for spec in _plans(anchor, refs):
        if not spec["value"]:
            continue
        end = spec["end"] if spec["end"] is None or spec["end"] >= spec["start"] else None
        plan = ActionPlan(
            org_id=org_id, title=spec["title"], description=spec["description"],
            owner=spec["owner"], status=spec["status"], start_date=spec["start"], end_date=end,
            target_nps=spec["target"], link_kind=spec["kind"], link_value=spec["value"],
            window_before_days=spec["before"], window_after_days=spec["after"],
            created_by=DEMO_ACTOR,
            tasks=[PlanTask(org_id=org_id, position=i, title=title, done=done, due_date=due)
                   for i, (title, done, due) in enumerate(spec["tasks"])])
        session.add(plan)
        added += 1
    session.flush()
    return added


def seed_demo_plans_and_referrals(session: Session, org_id: str) -> dict[str, Any]:
    """The demo's plans, referral programme and lifecycle moves; flushes, does not commit."""
    from npsloop.referrals.demo import seed_demo_referrals

    result = {"plans": seed_demo_plans(session, org_id)}
    result.update(seed_demo_referrals(session, org_id))
    return result
