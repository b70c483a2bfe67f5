"""The e5 half of the sentiment cascade, trained by scripts/train_sentiment.py.

Embedding runs at ~12 texts/s on a small machine (hours for the ~35,000 packaged texts), so
embeddings are kept in a cache folder outside git (`--embedding-cache`, chunk files of
float16 vectors keyed by the SHA-1 of the clipped text: an interrupted run loses at most
one chunk) and only what the cascade needs is embedded:

- the head: a logistic regression on the e5 embeddings of a fixed random sample of the
  train split (`--e5-train-limit` texts per language, drawn by a seeded shuffle), its C
  chosen by 5-fold cross-validation on that sample;
- the stacking and the margin: the validation texts the train-only n-gram model is unsure
  of (|p - 0.5| < WIDEST_MARGIN). A logistic regression over [calibrated n-gram logit, e5
  logit] is fit on them, and the margin is the smallest one on MARGINS whose validation
  accuracy is within MARGIN_TOLERANCE of the best: every routed comment costs an embedding.

The test split is never embedded here.
"""

from __future__ import annotations

import hashlib
import random
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV

from npsloop.textmining import trainset
from npsloop.textmining.sentiment import E5_MAX_CHARS, embed

TRAIN_LIMIT = 6000
WIDEST_MARGIN = 0.35
MARGINS = (0.0, 0.02, 0.04, 0.06, 0.08, 0.1, 0.12, 0.15, 0.2, 0.25, 0.3, 0.35)
MARGIN_TOLERANCE = 0.002  # validation accuracy given up for fewer routed comments
SHUFFLE_SEED = "sentiment-e5"
BATCH = 32


def text_key(text: str) -> str:
    return hashlib.sha1(text[:E5_MAX_CHARS].encode("utf-8")).hexdigest()


class EmbeddingCache:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.vectors: dict[str, np.ndarray] = {}
        for chunk in sorted(folder.glob("*.npz")):
            with np.load(chunk, allow_pickle=False) as archive:
                self.vectors.update(zip(archive["keys"].tolist(), archive["vectors"],
                                        strict=True))

    def get(self, texts: list[str]) -> np.ndarray:
        """Embeddings of the texts, embedding (and saving) the ones not cached yet, shortest
        first so that a batch pads little."""
        missing = sorted({t for t in texts if text_key(t) not in self.vectors}, key=len)
        started = time.monotonic()
        for i in range(0, len(missing), BATCH):
            batch = missing[i : i + BATCH]
            vectors = embed(batch).astype(np.float16)
            keys = [text_key(t) for t in batch]
            np.savez(self.folder / f"c{time.time_ns()}.npz", keys=np.array(keys),
                     vectors=vectors)
            self.vectors.update(zip(keys, vectors, strict=True))
            if (i // BATCH) % 20 == 0:
                done = i + len(batch)
                print(f"  embedded {done}/{len(missing)} "
                      f"({done / (time.monotonic() - started):.1f}/s)", flush=True)
        return np.array([self.vectors[text_key(t)] for t in texts], dtype=np.float64)


def train_sample(lang: str, parts: dict[str, list[trainset.Example]], limit: int
                 ) -> list[trainset.Example]:
    """A fixed random sample of the train split (a generator seeded per language), so a
    larger limit extends a smaller one's sample and cached embeddings stay useful."""
    order = list(parts["train"])
    random.Random(f"{SHUFFLE_SEED}-{lang}").shuffle(order)
    return order[:limit]


def cascade_accuracy(margin: float, z_ngram: np.ndarray, p_stacked: np.ndarray,
                     y: np.ndarray) -> tuple[float, float]:
    routed = np.abs(1 / (1 + np.exp(-z_ngram)) - 0.5) < margin
    positive = np.where(routed, p_stacked > 0.5, z_ngram > 0)
    return float(np.mean(positive == (y == 1))), float(routed.mean())


def fit(lang: str, parts: dict[str, list[trainset.Example]], model: dict,
        cache: EmbeddingCache, limit: int) -> None:
    """Adds the e5 head, the stacking weights and the margin to `model` (in place)."""
    sample = train_sample(lang, parts, limit)
    print(f"{lang}: e5 head on {len(sample)} train texts", flush=True)
    x_train = cache.get([e.text for e in sample])
    head = LogisticRegressionCV(Cs=(0.1, 0.3, 1.0, 3.0, 10.0), cv=5, max_iter=5000)
    head.fit(x_train, [e.label for e in sample])
    z_val = model["validation_logits"]
    y_val = np.array([e.label for e in parts["validation"]])
    unsure = np.abs(1 / (1 + np.exp(-z_val)) - 0.5) < WIDEST_MARGIN
    val_texts = [e.text for e, u in zip(parts["validation"], unsure, strict=True) if u]
    print(f"{lang}: stacking on {len(val_texts)} unsure validation texts", flush=True)
    e5_val = head.decision_function(cache.get(val_texts))
    e5_alone = float(np.mean((e5_val > 0) == (y_val[unsure] == 1)))
    stack = LogisticRegression(C=1.0).fit(np.column_stack([z_val[unsure], e5_val]),
                                          y_val[unsure])
    p_stacked = np.full(len(y_val), 0.5)
    p_stacked[unsure] = stack.predict_proba(np.column_stack([z_val[unsure], e5_val]))[:, 1]
    scores = {m: cascade_accuracy(m, z_val, p_stacked, y_val) for m in MARGINS}
    best = max(acc for acc, _ in scores.values())
    margin = min(m for m, (acc, _) in scores.items() if acc >= best - MARGIN_TOLERANCE)
    for m, (acc, share) in scores.items():
        print(f"  {lang} margin {m:.2f}: validation accuracy {acc:.4f}, {share:.1%} routed",
              flush=True)
    print(f"{lang}: margin {margin} (e5 head C={float(head.C_[0])}, on the unsure "
          f"validation texts e5 alone {e5_alone:.4f})", flush=True)
    model["e5_coef"] = head.coef_.ravel().astype(np.float32)
    model["meta"]["cascade"] = {
        "e5_bias": float(head.intercept_[0]),
        "e5_C": float(head.C_[0]),
        "e5_train_size": len(sample),
        "stack": {"ngram": float(stack.coef_[0][0]), "e5": float(stack.coef_[0][1]),
                  "bias": float(stack.intercept_[0])},
        "stack_fit_size": int(unsure.sum()),
        "margin": margin,
        "validation_accuracy": round(scores[margin][0], 4),
        "validation_routed": round(scores[margin][1], 4),
        "e5_max_chars": E5_MAX_CHARS,
    }
