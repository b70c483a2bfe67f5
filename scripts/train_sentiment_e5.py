"""The e5 half of the sentiment cascade, trained by scripts/train_sentiment.py.

Embedding runs at ~12 texts/s on a small machine (hours for the ~35,000 packaged texts), so
embeddings are kept in a cache folder outside git (`--embedding-cache`, chunk files of
float16 vectors keyed by the SHA-1 of the clipped text: an interrupted run loses at most
one chunk) and only what the cascade needs is embedded:

- the head: trained on the e5 embeddings of a fixed random sample of the train split
  (`--e5-train-limit` texts per language, drawn by a seeded shuffle). Candidates: a
  logistic regression (C by 5-fold cross-validation on the sample) and one-hidden-layer
  ReLU networks (HIDDEN units, L2 strength on ALPHAS); the one whose cascade is most
  accurate on validation is shipped;
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
import warnings
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.neural_network import MLPClassifier

from npsloop.textmining import trainset
from npsloop.textmining.sentiment import E5_MAX_CHARS, embed

warnings.filterwarnings("ignore", category=FutureWarning, module="sklearn")

TRAIN_LIMIT = 9000
WIDEST_MARGIN = 0.35
MARGINS = (0.0, 0.02, 0.04, 0.06, 0.08, 0.1, 0.12, 0.15, 0.2, 0.25, 0.3, 0.35)
# Validation accuracy given up for fewer routed comments (every one costs an embedding):
# about half a standard error of accuracy on ~1,800 validation texts.
MARGIN_TOLERANCE = 0.005
SHUFFLE_SEED = "sentiment-e5"
BATCH = 32
HIDDEN = 64
ALPHAS = (1e-3, 1e-2, 1e-1)


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


def heads(x: np.ndarray, y: np.ndarray) -> dict[str, dict]:
    """Candidate e5 heads: name -> arrays as shipped (hidden_w/hidden_b empty if linear)."""
    linear = LogisticRegressionCV(Cs=(0.1, 0.3, 1.0, 3.0, 10.0), cv=5, max_iter=5000)
    linear.fit(x, y)
    out = {f"logistic regression, C={float(linear.C_[0]):g}": {
        "coef": linear.coef_.ravel(), "bias": float(linear.intercept_[0]),
        "hidden_w": np.zeros(0), "hidden_b": np.zeros(0)}}
    for alpha in ALPHAS:
        net = MLPClassifier(hidden_layer_sizes=(HIDDEN,), alpha=alpha, early_stopping=True,
                            random_state=0, max_iter=500).fit(x, y)
        out[f"{HIDDEN} ReLU units, alpha={alpha:g}"] = {
            "coef": net.coefs_[1].ravel(), "bias": float(net.intercepts_[1][0]),
            "hidden_w": net.coefs_[0], "hidden_b": net.intercepts_[0]}
    return out


def head_logits(head: dict, x: np.ndarray) -> np.ndarray:
    if head["hidden_w"].size:
        x = np.maximum(x @ head["hidden_w"] + head["hidden_b"], 0.0)
    return x @ head["coef"] + head["bias"]


def fit(lang: str, parts: dict[str, list[trainset.Example]], model: dict,
        cache: EmbeddingCache, limit: int) -> None:
    """Adds the e5 head, the stacking weights and the margin to `model` (in place)."""
    sample = train_sample(lang, parts, limit)
    print(f"{lang}: e5 head on {len(sample)} train texts", flush=True)
    x_train = cache.get([e.text for e in sample])
    candidates = heads(x_train, np.array([e.label for e in sample]))
    z_val = model["validation_logits"]
    y_val = np.array([e.label for e in parts["validation"]])
    unsure = np.abs(1 / (1 + np.exp(-z_val)) - 0.5) < WIDEST_MARGIN
    val_texts = [e.text for e, u in zip(parts["validation"], unsure, strict=True) if u]
    print(f"{lang}: stacking on {len(val_texts)} unsure validation texts", flush=True)
    x_val = cache.get(val_texts)
    best = None
    for name, head in candidates.items():
        e5_val = head_logits(head, x_val)
        stacked = np.column_stack([z_val[unsure], e5_val])
        stack = LogisticRegression(C=1.0).fit(stacked, y_val[unsure])
        p_stacked = np.full(len(y_val), 0.5)
        p_stacked[unsure] = stack.predict_proba(stacked)[:, 1]
        scores = {m: cascade_accuracy(m, z_val, p_stacked, y_val) for m in MARGINS}
        top = max(acc for acc, _ in scores.values())
        margin = min(m for m, (acc, _) in scores.items() if acc >= top - MARGIN_TOLERANCE)
        e5_alone = float(np.mean((e5_val > 0) == (y_val[unsure] == 1)))
        print(f"  {lang} head {name}: e5 alone {e5_alone:.4f} on the unsure validation "
              f"texts; cascade " + ", ".join(f"{m:g}: {acc:.4f} ({share:.0%})"
                                             for m, (acc, share) in scores.items()),
              flush=True)
        if best is None or scores[margin][0] > best[0]:
            best = (scores[margin][0], name, head, stack, margin, scores[margin][1])
    accuracy, name, head, stack, margin, routed = best  # type: ignore[misc]
    print(f"{lang}: e5 head {name}, margin {margin:g}: validation accuracy {accuracy:.4f} "
          f"with {routed:.1%} routed", flush=True)
    model["e5_coef"] = head["coef"].astype(np.float32)
    model["e5_hidden_w"] = head["hidden_w"].astype(np.float32)
    model["e5_hidden_b"] = head["hidden_b"].astype(np.float32)
    model["meta"]["cascade"] = {
        "e5_head": name,
        "e5_bias": head["bias"],
        "e5_train_size": len(sample),
        "stack": {"ngram": float(stack.coef_[0][0]), "e5": float(stack.coef_[0][1]),
                  "bias": float(stack.intercept_[0])},
        "stack_fit_size": int(unsure.sum()),
        "margin": margin,
        "validation_accuracy": round(accuracy, 4),
        "validation_routed": round(routed, 4),
        "e5_max_chars": E5_MAX_CHARS,
    }
