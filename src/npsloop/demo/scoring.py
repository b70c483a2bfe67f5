"""How a demo customer's experience becomes a score, driver ratings and a main reason.

Each response draws a general disposition `g` and, per driver, an experience
`x = 0.75 g + 0.65 z + shift`, where `z` is the driver's own noise and `shift` what was going
on that day (late deliveries, a crashing app, summer heat, promotions). The latent
satisfaction is a weighted mean of the experiences plus the survey's level, the contact's
situation and noise; the 0-10 score and the 1-5 ratings are read off it with their own noise.
Delivery and quality weigh most, price least, so their ratings relate to the score in that
order, as in real grocery NPS driver analyses.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from npsloop.demo.timeline import EAST_CHINA, Day

DRIVER_WEIGHTS = {
    "delivery": 3.0, "quality": 2.6, "service": 2.0, "checkout": 1.5,
    "returns": 1.3, "app": 1.1, "price": 0.6,
}
MISSING_RATING = 0.08  # share of driver questions left unanswered


@dataclass
class Outcome:
    score: int
    category: str
    ratings: dict[str, int]  # answered drivers only
    experience: dict[str, float]  # every driver, answered or not
    reason: str | None  # the main_reason option, None when skipped


def category_of(score: int) -> str:
    if score >= 9:
        return "promoter"
    return "passive" if score >= 7 else "detractor"


def driver_shifts(day: Day, city: str, survey_code: str) -> dict[str, float]:
    """What the day did to each driver's experience."""
    crisis = day.delivery_crisis * (1.0 if city in EAST_CHINA else 0.35)
    shifts = {
        "delivery": -2.1 * crisis - 1.1 * day.peak_strain + 0.1,
        "quality": -0.7 * day.heat - 0.5 * crisis,
        "price": -0.25 + 0.55 * day.promo,
        "service": -0.45 + 0.7 * day.progress - 0.5 * crisis,
        "app": -1.4 * day.app_outage,
        "checkout": -1.6 * day.app_outage,
        "returns": -0.35 + 0.3 * day.progress,
    }
    if survey_code == "service":
        # People reach support because something went wrong; good agents rescue part of it.
        shifts["returns"] -= 0.3
    return shifts


def _score_from(latent: float, rng: random.Random) -> int:
    if latent < 0:
        latent *= 1.3  # unhappy customers spread further down the scale than happy ones up
    score = round(7.5 + 2.0 * latent)
    # Heaping: people like round answers (5 for "meh", 8 for "good but").
    if score in (4, 6) and rng.random() < 0.3:
        score = 5
    elif score == 7 and rng.random() < 0.25:
        score = 8
    return max(0, min(10, score))


def _rating(experience: float, noise: float = 0.0) -> int:
    return max(1, min(5, round(3.85 + 0.95 * experience + noise)))


def ranked_drivers(outcome: Outcome) -> list[str]:
    """Drivers from the worst experience to the best, by the rating the customer gave first
    (an unanswered driver counts with the rating it would have had)."""
    return sorted(outcome.experience, key=lambda key: (
        outcome.ratings.get(key, _rating(outcome.experience[key])), outcome.experience[key]))


def _reason(outcome: Outcome, rng: random.Random) -> str | None:
    roll = rng.random()
    if roll < 0.12:
        return None
    if roll < 0.16:
        return "other"
    # Detractors and passives name what hurt most; promoters what delighted them most.
    ranked = ranked_drivers(outcome)
    return ranked[-1] if outcome.category == "promoter" else ranked[0]


def outcome(
    drivers: tuple[str, ...], base: float, contact_effect: float, shifts: dict[str, float],
    rng: random.Random,
) -> Outcome:
    general = rng.gauss(0.0, 1.0)
    experience = {k: 0.75 * general + 0.65 * rng.gauss(0.0, 1.0) + shifts.get(k, 0.0)
                  for k in drivers}
    weight_sum = sum(DRIVER_WEIGHTS[k] for k in drivers)
    blended = sum(DRIVER_WEIGHTS[k] * experience[k] for k in drivers) / weight_sum
    latent = base + contact_effect + 1.1 * blended + rng.gauss(0.0, 0.45)
    score = _score_from(latent, rng)
    category = category_of(score)
    ratings = {}
    for key in drivers:
        if rng.random() < MISSING_RATING:
            continue
        ratings[key] = _rating(experience[key], rng.gauss(0.0, 0.4))
    result = Outcome(score, category, ratings, experience, None)
    result.reason = _reason(result, rng)
    return result
