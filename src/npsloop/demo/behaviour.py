"""FreshGo's behaviour events: orders (`order_placed`, with an amount in CNY) and membership
cancellations (`subscription_cancelled`), shaped by what each customer said in their surveys.

The story follows the Meituan and Spotify cases: what customers say predicts what they do.
- Each customer orders as a Poisson process at a personal rate (by plan, with lognormal
  spread). After each answer the rate moves with the answer: promoters order more often,
  detractors less, and a bad delivery rating (1-2) lowers it further.
- After each answer a customer may cancel their membership within the next 60 days:
  rarely for promoters, often for detractors, most often for detractors whose complaint was
  delivery (a rating of 1-2 or delivery as the main reason). After a cancellation they
  still order now and then, at a quarter of their rate.
- Touchpoint answers (after checkout, after delivery) follow an order placed 0-2 days
  before, as the real surveys do.

Rows are built in memory from the demo's own rows (no database reads) with a seeded
random stream, so the same demo year always gives the same events.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from npsloop.demo.generate import SEED, DemoRows, new_id

REPURCHASE_EVENT = "order_placed"
CHURN_EVENT = "subscription_cancelled"
PLAN_ORDER_DAYS = {"free": 42.0, "plus": 26.0, "vip": 15.0}  # mean days between orders
CATEGORY_RATE = {"promoter": 1.35, "passive": 1.0, "detractor": 0.5}
CANCEL_CHANCE = {"promoter": 0.02, "passive": 0.06, "detractor": 0.16}
DELIVERY_COMPLAINT_CANCEL = 0.14  # added for a detractor whose complaint was delivery
AFTER_CANCEL_RATE = 0.25
HISTORY_DAYS = 45  # orders before the first day of the year, for recency and frequency
ORDER_FOLLOWED_SURVEYS = ("checkout", "delivery")


def _amount(rng: random.Random, plan: str) -> float:
    return round(rng.lognormvariate(4.55 if plan != "vip" else 4.9, 0.45), 2)


def _row(org_id: str, contact_id: str, name: str, at: datetime,
         properties: dict[str, Any]) -> dict[str, Any]:
    return {"id": new_id(), "org_id": org_id, "contact_id": contact_id, "name": name,
            "properties": properties, "occurred_at": at, "event_key": None,
            "source": "demo", "created_at": at}


def build_events(rows: DemoRows, org_id: str, survey_codes: dict[str, str],
                 tz: ZoneInfo) -> list[dict[str, Any]]:
    """Order and cancellation events for every demo contact (survey_codes: id -> code)."""
    assert rows.first_day is not None and rows.last_day is not None
    rng = random.Random(f"{SEED}:behaviour")
    end = datetime.combine(rows.last_day, time(23, 0), tzinfo=tz).astimezone(UTC)
    history_start = datetime.combine(rows.first_day - timedelta(days=HISTORY_DAYS), time(8),
                                     tzinfo=tz).astimezone(UTC)
    delivery = {a["response_id"]: a["number_value"] for a in rows.answers
                if a["question_key"] == "delivery" and a["kind"] == "driver_rating"}
    reason = {a["response_id"]: a["choice_values"][0] for a in rows.answers
              if a["question_key"] == "main_reason"}
    answers: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for response in rows.responses:
        answers[response["contact_id"]].append(response)
    events: list[dict[str, Any]] = []
    for contact in rows.contacts:
        attributes = contact["attributes"]
        plan = attributes.get("plan", "free")
        signup = date.fromisoformat(attributes["signup_date"])
        start = max(history_start, datetime.combine(signup, time(12), tzinfo=tz).astimezone(UTC))
        base = rng.lognormvariate(0.0, 0.4) / PLAN_ORDER_DAYS[plan]
        person = _Customer(org_id, contact["id"], plan, base, start, rng, events)
        for response in sorted(answers.get(contact["id"], ()), key=lambda r: r["submitted_at"]):
            person.answer(response, delivery.get(response["id"]), reason.get(response["id"]),
                          survey_codes.get(response["survey_id"], ""), end)
        person.orders_until(end)
    return events


class _Customer:
    """One contact's simulation: their order rate and membership, moved by their answers."""

    def __init__(self, org_id: str, contact_id: str, plan: str, base: float, start: datetime,
                 rng: random.Random, out: list[dict[str, Any]]) -> None:
        self.org_id, self.contact_id, self.plan = org_id, contact_id, plan
        self.base, self.multiplier, self.rng, self.out = base, 1.0, rng, out
        self.clock = start
        self.cancel_at: datetime | None = None

    def _rate_at(self, moment: datetime) -> float:
        cancelled = self.cancel_at is not None and moment >= self.cancel_at
        return self.base * self.multiplier * (AFTER_CANCEL_RATE if cancelled else 1.0)

    def order(self, at: datetime) -> None:
        self.out.append(_row(self.org_id, self.contact_id, REPURCHASE_EVENT, at,
                             {"amount": _amount(self.rng, self.plan)}))

    def orders_until(self, stop: datetime) -> None:
        """Poisson orders from the clock up to `stop` at the current rate (memoryless:
        restarting the draw where the rate changes is exact)."""
        moment = self.clock
        while moment < stop:
            boundary = stop
            if self.cancel_at is not None and moment < self.cancel_at < stop:
                boundary = self.cancel_at
            following = moment + timedelta(days=self.rng.expovariate(self._rate_at(moment)))
            if following >= boundary:
                moment = boundary
                continue
            self.order(following.replace(microsecond=0))
            moment = following
        self.clock = max(self.clock, stop)

    def answer(self, response: dict[str, Any], delivery: float | None, reason: str | None,
               survey_code: str, end: datetime) -> None:
        at: datetime = response["submitted_at"]
        if survey_code in ORDER_FOLLOWED_SURVEYS and at > self.clock:
            # The order the survey asks about, 0-2 days before the answer.
            placed = max(self.clock, at - timedelta(hours=self.rng.uniform(2, 48)))
            self.orders_until(placed)
            self.order(placed.replace(microsecond=0))
        self.orders_until(at)
        category = response["category"]
        bad_delivery = delivery is not None and delivery <= 2
        self.multiplier = CATEGORY_RATE[category] * (0.8 if bad_delivery else 1.0)
        if self.cancel_at is None:
            chance = CANCEL_CHANCE[category]
            if category == "detractor" and (bad_delivery or reason == "delivery"):
                chance += DELIVERY_COMPLAINT_CANCEL
            if self.rng.random() < chance:
                cancel = at + timedelta(days=self.rng.uniform(0.5, 60))
                if cancel < end:
                    self.cancel_at = cancel.replace(microsecond=0)
                    self.out.append(_row(self.org_id, self.contact_id, CHURN_EVENT,
                                         self.cancel_at, {"reason_code": "member_cancel"}))
