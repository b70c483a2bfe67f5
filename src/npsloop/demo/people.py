"""FreshGo's customers: ~8,000 contacts with city, plan, acquisition channel and sign-up date.

The lifecycle stage is a function of time (new customers are in *acquisition*, then
*conversion*, then *retention*; those who brought friends are in *referral*), so a response
snapshots the stage its contact was in on the day it was given.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass
from datetime import date, timedelta

CITIES = (
    ("上海", 0.21), ("北京", 0.17), ("杭州", 0.12), ("深圳", 0.11), ("广州", 0.09),
    ("成都", 0.09), ("武汉", 0.07), ("南京", 0.06), ("苏州", 0.05), ("西安", 0.03),
)
# English-speaking customers concentrate in the international cities.
ENGLISH_SHARE = {"上海": 0.38, "北京": 0.32, "深圳": 0.3, "广州": 0.25, "杭州": 0.2}
ENGLISH_SHARE_ELSEWHERE = 0.1
PLANS = (("free", 0.55), ("plus", 0.33), ("vip", 0.12))
ACQUISITION_CHANNELS = (
    ("wechat_mini_program", 0.3), ("app_store", 0.24), ("referral", 0.15),
    ("douyin", 0.12), ("search", 0.1), ("offline_promo", 0.09),
)
# How a contact's situation shifts its latent satisfaction.
PLAN_EFFECT = {"free": -0.12, "plus": 0.12, "vip": 0.35}
STAGE_EFFECT = {"acquisition": 0.15, "conversion": -0.05, "retention": 0.0, "referral": 0.5}
CITY_EFFECT = {"成都": 0.12, "武汉": -0.08, "北京": -0.05, "深圳": 0.05}


def _pick(rng: random.Random, table: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([k for k, _ in table], weights=[w for _, w in table])[0]


@dataclass
class Person:
    external_id: str
    city: str
    plan: str
    acquisition_channel: str
    signup: date
    language: str
    email: str | None
    referred_on: date | None  # first day this customer brought a friend, if ever

    def stage_on(self, day: date) -> str:
        if self.referred_on is not None and day >= self.referred_on:
            return "referral"
        age = (day - self.signup).days
        if age < 30:
            return "acquisition"
        if age < 120:
            return "conversion"
        return "retention"

    def attributes_on(self, day: date) -> dict[str, str]:
        return {
            "city": self.city,
            "plan": self.plan,
            "acquisition_channel": self.acquisition_channel,
            "signup_date": self.signup.isoformat(),
            "lifecycle_stage": self.stage_on(day),
        }

    def effect_on(self, day: date) -> float:
        return (PLAN_EFFECT[self.plan] + STAGE_EFFECT[self.stage_on(day)]
                + CITY_EFFECT.get(self.city, 0.0))


def build_people(count: int, first_day: date, last_day: date, rng: random.Random) -> list[Person]:
    """`count` customers sorted by sign-up date; ~30% joined during the demo year."""
    people = []
    span = (last_day - first_day).days
    for number in range(count):
        if rng.random() < 0.3:
            signup = first_day + timedelta(days=int(span * rng.random() ** 0.8))
        else:
            signup = first_day - timedelta(days=1 + int(rng.random() * 3 * 365))
        city = _pick(rng, CITIES)
        plan = _pick(rng, PLANS)
        channel = _pick(rng, ACQUISITION_CHANNELS)
        english = rng.random() < ENGLISH_SHARE.get(city, ENGLISH_SHARE_ELSEWHERE)
        referred_on = None
        if rng.random() < (0.25 if plan == "vip" else 0.12):
            referred_on = signup + timedelta(days=20 + int(rng.random() * 400))
        people.append(Person(
            external_id=f"FG{100000 + number * 7 + rng.randrange(7):07d}",
            city=city, plan=plan, acquisition_channel=channel, signup=signup,
            language="en" if english else "zh-CN",
            email=f"customer{number + 1:05d}@example.com" if rng.random() < 0.6 else None,
            referred_on=referred_on,
        ))
    people.sort(key=lambda p: (p.signup, p.external_id))
    return people


class Picker:
    """Chooses who answers on a given day among the customers already signed up."""

    def __init__(self, people: list[Person]) -> None:
        self.people = people
        self._signups = [p.signup for p in people]

    def pick(self, day: date, rng: random.Random) -> Person:
        eligible = max(1, bisect.bisect_right(self._signups, day))
        recent = bisect.bisect_left(self._signups, day - timedelta(days=30))
        # New customers answer more often than their share (first orders get surveyed).
        if recent < eligible and rng.random() < 0.15:
            return self.people[recent + int(rng.random() * (eligible - recent))]
        return self.people[int(rng.random() * eligible)]
