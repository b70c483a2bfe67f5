"""Sentiment of a comment: a score in -1..1 and a label, from a model shipped in the package.

The model is an NB-SVM style logistic regression (Wang & Manning 2012): binary n-gram
features scaled by their naive-Bayes log-count ratio, then a logistic regression. Scale and
weight fold into one float per feature, so scoring is one dictionary lookup per feature and
a sum: thousands of comments per second per core with numpy only. Probabilities are Platt-
calibrated on the validation split and mapped to -1..1 (2p - 1); |score| below the
neutral band is labelled neutral. How the models are trained (near-duplicate-grouped split,
rating-weighted English examples, clause examples for short Chinese comments) is in
scripts/train_sentiment.py; bench/bench_textmining.py reports held-out accuracy (zh 0.872,
en 0.827 for the shipped models: below the 0.88 / 0.85 the issue aims for).

Model files are `.npz` archives (loaded with allow_pickle=False, so loading runs no code):
`features` (UTF-8, newline-joined), `weights` (float32), `dense` (weights of the dense
lexicon features, en only) and `meta` (JSON: bias, calibration, band, version, metrics).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from npsloop.textmining.features import DATA_DIR, FEATURIZERS, en_lexicon_features

LANGS = ("zh", "en")


@dataclass(frozen=True)
class Sentiment:
    score: float  # -1 (negative) .. 1 (positive)
    label: str  # positive | neutral | negative


class SentimentModel:
    def __init__(self, path: Path) -> None:
        with np.load(path, allow_pickle=False) as archive:
            names = archive["features"].tobytes().decode("utf-8").split("\n")
            weights = archive["weights"].astype(np.float64).tolist()
            self.dense = archive["dense"].astype(np.float64).tolist()
            self.meta = json.loads(archive["meta"].tobytes().decode("utf-8"))
        self.weights: dict[str, float] = dict(zip(names, weights, strict=True))
        self.lang: str = self.meta["lang"]
        self.bias: float = self.meta["bias"]
        self.calib_a: float = self.meta["calibration"]["a"]
        self.calib_b: float = self.meta["calibration"]["b"]
        self.neutral_band: float = self.meta["neutral_band"]
        self.featurize = FEATURIZERS[self.lang]

    def logit(self, text: str) -> float:
        get = self.weights.get
        total = self.bias
        for feat in set(self.featurize(text)):
            total += get(feat, 0.0)
        if self.dense:
            total += sum(w * x for w, x in zip(self.dense, en_lexicon_features(text),
                                               strict=True))
        return total

    def probability(self, text: str) -> float:
        z = self.calib_a * self.logit(text) + self.calib_b
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def predict(self, text: str) -> Sentiment:
        score = round(2.0 * self.probability(text) - 1.0, 4)
        return Sentiment(score, label_of(score, self.neutral_band))


def label_of(score: float, band: float) -> str:
    if score >= band:
        return "positive"
    if score <= -band:
        return "negative"
    return "neutral"


@lru_cache(maxsize=2)
def model(lang: str) -> SentimentModel:
    if lang not in LANGS:
        raise ValueError(f"no sentiment model for language '{lang}'")
    return SentimentModel(DATA_DIR / f"sentiment_{lang}.npz")


def analyse(text: str, language: str, zh_share: float = 1.0) -> Sentiment | None:
    """Sentiment for a detected language; mixed text blends both models by script share."""
    if not text.strip() or language == "other":
        return None
    if language in LANGS:
        return model(language).predict(text)
    zh = model("zh").probability(text)
    en = model("en").probability(text)
    p = zh_share * zh + (1 - zh_share) * en
    score = round(2 * p - 1, 4)
    return Sentiment(score, label_of(score, model("zh").neutral_band))
