"""Shared checks for the demo data: topic words and a digest of an organisation's rows."""

from __future__ import annotations

import hashlib
import json
import statistics
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from npsloop.contacts.models import Contact
from npsloop.responses.models import Response, ResponseAnswer
from npsloop.surveys.models import Survey

# Words a customer uses when talking about each driver (lower-cased match).
TOPIC_WORDS = {
    "delivery": ("配送", "快递", "送", "骑手", "物流", "到货", "冰袋", "冷链", "包装", "袋子",
                 "deliv", "courier", "arriv", "rider", "driver", "ice pack", "packag", "slot",
                 "tracking", "frozen"),
    "quality": ("新鲜", "烂", "坏", "质量", "品质", "过期", "霉", "分量", "异味", "怪味", "黄",
                "fresh", "rotten", "mushy", "quality", "mold", "expiry", "wilted", "smelled",
                "underweight", "bruised", "went bad"),
    "price": ("价", "贵", "便宜", "券", "优惠", "会员费", "满减", "划算", "费", "pric",
              "expensive", "cheap", "coupon", "fee", "¥", "discount", "deal", "money", "paying"),
    "service": ("客服", "service", "support", "agent", "bot"),
    "app": ("app", "小程序"),
    "checkout": ("支付", "付款", "结算", "下单", "订单", "扣款", "checkout", "pay", "charged",
                 "order"),
    "returns": ("退", "售后", "补偿", "换货", "refund", "return", "after-sales", "compensation",
                "replacement"),
}


def mentions(text: str, topic: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in TOPIC_WORDS[topic])


def pearson(pairs: list[tuple[float, float]]) -> float:
    xs, ys = zip(*pairs, strict=True)
    return statistics.correlation(xs, ys)


def driver_pairs(session: Session, org_id: str) -> dict[str, list[tuple[float, float]]]:
    """(rating, score) per driver, plus "mean" = (mean rating of a response, its score)."""
    rows = session.execute(
        select(ResponseAnswer.question_key, ResponseAnswer.number_value, Response.id,
               Response.score)
        .join(Response, Response.id == ResponseAnswer.response_id)
        .where(Response.org_id == org_id, ResponseAnswer.kind == "driver_rating")
    )
    pairs: dict[str, list[tuple[float, float]]] = defaultdict(list)
    per_response: dict[str, list[float]] = defaultdict(list)
    scores: dict[str, int] = {}
    for key, value, response_id, score in rows:
        pairs[key].append((float(value), float(score)))
        per_response[response_id].append(float(value))
        scores[response_id] = score
    pairs["mean"] = [(sum(v) / len(v), float(scores[rid])) for rid, v in per_response.items()]
    return pairs


def digest(session: Session, org_id: str) -> str:
    """A hash of the organisation's surveys, contacts, responses and answers without their
    surrogate ids, in a stable order, so two seeded databases can be compared."""
    return hashlib.sha256("\n".join(records(session, org_id)).encode()).hexdigest()


def records(session: Session, org_id: str) -> list[str]:
    """One JSON line per contact and per response (with its answers), sorted."""
    surveys = {s.id: s.name for s in session.scalars(select(Survey).where(Survey.org_id == org_id))}
    contacts = {c.id: c for c in session.scalars(select(Contact).where(Contact.org_id == org_id))}
    answers: dict[str, list[tuple]] = defaultdict(list)
    for answer in session.scalars(select(ResponseAnswer).where(ResponseAnswer.org_id == org_id)):
        answers[answer.response_id].append(
            (answer.question_key, answer.kind, answer.number_value, answer.choice_values))
    lines = []
    for contact in contacts.values():
        lines.append(json.dumps(["contact", contact.external_id, contact.email,
                                   contact.language, contact.lifecycle_stage, contact.attributes,
                                   contact.tags], sort_keys=True, ensure_ascii=False))
    for response in session.scalars(select(Response).where(Response.org_id == org_id)):
        contact = contacts.get(response.contact_id or "")
        lines.append(json.dumps([
            "response", surveys[response.survey_id], contact.external_id if contact else None,
            response.score, response.category, response.comment, response.language,
            response.channel, response.status, response.contact_attributes,
            response.submitted_at.isoformat(),
            response.completed_at.isoformat() if response.completed_at else None,
            sorted(answers[response.id], key=lambda a: a[0]),
        ], sort_keys=True, ensure_ascii=False, default=str))
    return sorted(lines)
