"""Writes the open comment of a demo response from phrase banks, like a customer would.

The comment talks about the driver behind the score: a detractor complains about the driver
they rated worst (the one named as main reason), a promoter praises the best one, a passive
often says "good, but ...". Length varies from one word to four clauses, the day's events
add context ("双11期间", "since the latest update"), and some comments are rough on purpose:
no punctuation, lower case, a typo, an emoji.
"""

from __future__ import annotations

import random
from types import ModuleType

from npsloop.demo import phrases_en, phrases_zh
from npsloop.demo.scoring import Outcome, ranked_drivers
from npsloop.demo.timeline import EAST_CHINA, Day

BANKS: dict[str, ModuleType] = {"zh-CN": phrases_zh, "en": phrases_en}
COMMENT_RATE = {"promoter": 0.53, "passive": 0.52, "detractor": 0.8}
PEAK_EVENTS = ("double11", "spring_rush", "spring_holiday", "mid_year_618")
# English fragments that must keep their capital when they follow a lead-in.
PROPER_STARTS = ("WeChat", "FreshGo", "I ", "I'", "CNY")


def wants_comment(category: str, rng: random.Random) -> bool:
    return rng.random() < COMMENT_RATE[category]


def _fill(template: str, bank: ModuleType, rng: random.Random) -> str:
    return template.format(
        item=rng.choice(bank.ITEMS), fruit=rng.choice(bank.FRUITS),
        greens=rng.choice(bank.GREENS), chilled=rng.choice(bank.CHILLED),
        slot=rng.choice(bank.SLOTS), days=rng.randint(2, 5),
        hours=rng.randint(2, 6), minutes=rng.choice((15, 20, 25, 30, 35, 40, 45)),
        n=rng.randint(2, 6), diff=rng.choice((3, 5, 8, 10, 12, 15, 20)),
        threshold=rng.choice((49, 59, 69, 88, 99)), coupon=rng.choice((5, 10, 15, 20, 30)),
    )


def _fragment(bank: ModuleType, topic: str, polarity: str, rng: random.Random) -> str:
    return _fill(rng.choice(bank.TOPICS[topic][polarity]), bank, rng)


def _context(topic: str, polarity: str, day: Day, city: str, rng: random.Random) -> str:
    """The name of a lead-in that fits what was going on that day, or ''."""
    if polarity == "pos":
        peak = topic == "delivery" and day.peak_strain > 0.2
        return "peak_praise" if peak and rng.random() < 0.4 else ""
    if topic == "delivery":
        if day.delivery_crisis > 0.3 and city in EAST_CHINA and rng.random() < 0.5:
            return "delivery_crisis"
        for event in PEAK_EVENTS:
            if event in day.events and day.peak_strain > 0.2 and rng.random() < 0.5:
                return event
    if topic in ("app", "checkout") and day.app_outage > 0.3 and rng.random() < 0.6:
        return "app_outage"
    if topic == "quality" and day.heat > 0.5 and rng.random() < 0.35:
        return "heat"
    return ""


def _lower_first(text: str) -> str:
    if not text or text.startswith(PROPER_STARTS):
        return text
    return text[0].lower() + text[1:]


def _lead_in(lang: str, bank: ModuleType, context: str, fragment: str,
             rng: random.Random) -> str:
    if not context:
        return fragment
    lead = rng.choice(bank.CONTEXT[context])
    if lang == "en" and not lead.endswith(". "):
        fragment = _lower_first(fragment)
    return lead + fragment


def _core(lang: str, category: str, outcome: Outcome, day: Day, city: str,
          rng: random.Random) -> tuple[str, str]:
    """The clause that carries the topic, and a second clause for long comments."""
    bank = BANKS[lang]
    ranked = ranked_drivers(outcome)
    worst, best = ranked[0], ranked[-1]
    if category == "promoter":
        topic, polarity, others = outcome.reason or best, "pos", ranked[-2::-1]
    else:
        topic, polarity, others = outcome.reason or worst, "neg", ranked[1:]
    main = _lead_in(lang, bank, _context(topic, polarity, day, city, rng),
                    _fragment(bank, topic, polarity, rng), rng)
    contrasted = any(word in main for word in ("就是", "但", "but", "But"))
    if category == "passive" and best != topic and not contrasted and rng.random() < 0.6:
        praise = _fragment(bank, best, "pos", rng)
        but = rng.choice(bank.BUT)
        english = f"{praise}, {but} {_lower_first(main)}"
        main = english if lang == "en" else f"{praise}，{but}{main}"
    second = ""
    threshold = 4 if polarity == "pos" else 3
    fits = [k for k in others if k != topic and
            (outcome.ratings.get(k, 3) >= threshold if polarity == "pos"
             else outcome.ratings.get(k, 3) <= threshold)]
    if fits:
        second = _fragment(bank, fits[0], polarity, rng)
    return main, second


ZH_STOPS = ("，", ",", "！", "!", "。", "？")
EMOJI = ("👍", "😡")


def _join_zh(parts: list[str], category: str, rng: random.Random) -> str:
    text = parts[0]
    for part in parts[1:]:
        if text.endswith(ZH_STOPS):
            joiner = ""
        elif part.startswith(EMOJI):
            joiner = rng.choice(("", " "))
        else:
            joiner = rng.choice(phrases_zh.JOINERS)
        text += joiner + part
    if not text.endswith((*EMOJI, "！", "!")):
        text += rng.choice(phrases_zh.ENDINGS[category])
    if rng.random() < 0.1:  # typed in a hurry: spaces instead of punctuation
        for mark in ("，", "。", ","):
            text = text.replace(mark, " ")
        text = text.strip()
    return text


def _join_en(parts: list[str], category: str, rng: random.Random) -> str:
    stop = "! " if category == "promoter" and rng.random() < 0.3 else ". "
    text = ""
    for part in parts:
        if text:
            text += " " if text.endswith(("!", "?", ".")) else stop
        text += part[0].upper() + part[1:]
    if not text.endswith(("!", "?", "👍")):
        text += rng.choice((".", ".", "", "!")) if category != "passive" else "."
    roll = rng.random()
    if roll < 0.15:  # typed on a phone: all lower case, no final stop
        text = text.lower().rstrip(".")
    elif roll < 0.27:
        words = [w for w in phrases_en.TYPOS if w in text]
        if words:
            word = rng.choice(sorted(words))
            text = text.replace(word, phrases_en.TYPOS[word], 1)
    return text


def compose(lang: str, category: str, outcome: Outcome, day: Day, city: str,
            rng: random.Random) -> str:
    bank = BANKS[lang]
    main, second = _core(lang, category, outcome, day, city, rng)
    length = rng.random()
    if length < 0.2:
        short = bank.SHORT.get(category)
        return rng.choice(short) if short and rng.random() < 0.6 else _finish(lang, [main],
                                                                              category, rng)
    parts = [main]
    opener = rng.random() < (0.35 if length < 0.72 else 0.8)
    if opener:
        parts.insert(0, rng.choice(bank.OPENERS[category]))
    if length >= 0.72 and second:
        parts.append(second)
    if rng.random() < (0.4 if length < 0.72 else 0.75):
        parts.append(rng.choice(bank.CLOSERS[category]))
    return _finish(lang, parts, category, rng)


def _finish(lang: str, parts: list[str], category: str, rng: random.Random) -> str:
    return _join_zh(parts, category, rng) if lang == "zh-CN" else _join_en(parts, category, rng)
