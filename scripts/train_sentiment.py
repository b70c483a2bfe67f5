"""Train the zh and en sentiment models shipped in src/npsloop/textmining/data/.

    pip install -e '.[train]'
    python scripts/train_sentiment.py [--vader-archive vaderSentiment-3.3.2.tar.gz]
        [--embedding-cache e5cache] [--e5-train-limit N] [--no-e5 | --e5-only]

Without --vader-archive the vaderSentiment source archive is fetched with
`pip download --no-binary :all: --no-deps vaderSentiment` into a temporary folder.
Data, dedup, near-duplicate grouping and split are described in
npsloop/textmining/trainset.py. The regularisation strength is chosen on the validation
split and probabilities are calibrated on it; the shipped model is then refit on train +
validation. The cascade's e5 head, stacking and routing margin (scripts/
train_sentiment_e5.py) are then fit on the train split's embeddings and chosen on the
validation split, from the train-only n-gram model's validation logits (saved with the
model, so `--e5-only` retrains the cascade alone). Embeddings are slow (~12 texts/s), so
they are cached in --embedding-cache (keep it outside git; a rerun reuses it). The test
split is never looked at here (bench/bench_textmining.py reports on it).
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

from npsloop.textmining import trainset
from npsloop.textmining.features import DATA_DIR, FEATURIZERS, en_lexicon_features

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_sentiment_e5 as cascade  # noqa: E402 - the sibling script module

C_GRID = {"zh": (0.05, 0.1, 0.3), "en": (0.05, 0.1, 0.3, 1.0)}
DENSE_SCALE = 3.0  # puts the three lexicon features on the scale of the NB-scaled columns
NEUTRAL_BAND = 0.2
PRUNE_BELOW = 1e-4
MAX_RATING_WEIGHT = 3.0
# Chinese training reviews are long (73 characters on average) and NPS comments are short:
# trained on whole reviews only, the model leans negative on a short comment ("很喜欢这本书"
# scored -0.4). Each clause of a multi-clause training review is added as an extra example
# with the review's label at this weight (a clause of a negative review can be praise, so
# it must weigh little). Chosen on the validation split: 0.1 costs 0.2 points of
# validation accuracy (within noise) and 0.3 costs 0.5.
CLAUSE_WEIGHT = {"zh": 0.1, "en": 0.0}
CLAUSE_SPLIT = re.compile(r"[,.!?;:\uff0c\u3002\uff01\uff1f\uff1b\uff1a~\s]+")
SHORT_COMMENT = 20  # characters: validation accuracy is also reported on comments this short
MODEL_VERSION = "2026.12-nbsvm-4"


def fetch_vader_archive(folder: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
         "--dest", str(folder), "vaderSentiment==3.3.2"],
        check=True,
    )
    return next(folder.glob("vaderSentiment-*.tar.gz"))


def dense_matrix(lang: str, texts: list[str]) -> sparse.csr_matrix:
    if lang != "en":
        return sparse.csr_matrix((len(texts), 0))
    rows = [en_lexicon_features(t) for t in texts]
    return sparse.csr_matrix(np.asarray(rows) * DENSE_SCALE)


def example_weights(examples: list[trainset.Example]) -> np.ndarray:
    """English items carry the mean of ~20 human ratings (-4..4): an item rated 0.3 is one
    the raters barely agreed on, so it weighs |rating| (capped at 3) in training; Chinese
    items have no rating and weigh 1. Weights are scaled to mean 1 so C keeps its meaning."""
    raw = np.array([1.0 if e.rating is None else min(abs(e.rating), MAX_RATING_WEIGHT)
                    for e in examples])
    return raw * len(raw) / raw.sum()


def nb_ratio(x: sparse.csr_matrix, y: np.ndarray) -> np.ndarray:
    """Naive-Bayes log-count ratio per feature, add-one smoothed."""
    pos = 1.0 + np.asarray(x[y == 1].sum(axis=0)).ravel()
    neg = 1.0 + np.asarray(x[y == 0].sum(axis=0)).ravel()
    return np.log((pos / pos.sum()) / (neg / neg.sum()))


def design(lang: str, vectorizer: CountVectorizer, ratio: np.ndarray,
           texts: list[str]) -> sparse.csr_matrix:
    x = vectorizer.transform(texts)
    return sparse.hstack([x @ sparse.diags(ratio), dense_matrix(lang, texts)]).tocsr()


@functools.cache
def featurize(lang: str, text: str) -> tuple[str, ...]:
    """Features of a text, computed once per run (every C of the grid re-vectorizes)."""
    return tuple(FEATURIZERS[lang](text))


def with_clauses(lang: str, examples: list[trainset.Example]
                 ) -> tuple[list[trainset.Example], np.ndarray]:
    """The examples, then each clause of a multi-clause example (>= 2 characters) with the
    example's label, and the training weight of each."""
    weights = example_weights(examples)
    if not CLAUSE_WEIGHT[lang]:
        return examples, weights
    clauses = []
    for ex in examples:
        pieces = [p for p in CLAUSE_SPLIT.split(ex.text) if len(p) >= 2]
        if len(pieces) > 1:
            clauses += [trainset.Example(p, ex.label, ex.source, ex.rating) for p in pieces]
    extra = np.full(len(clauses), CLAUSE_WEIGHT[lang])
    return examples + clauses, np.concatenate([weights, extra])


def train_once(lang: str, examples: list[trainset.Example], c: float):
    texts = [e.text for e in examples]
    y = np.array([e.label for e in examples])
    vectorizer = CountVectorizer(analyzer=functools.partial(featurize, lang), binary=True,
                                 min_df=2)
    # Vocabulary and NB ratios come from the whole examples only; clauses only add rows.
    ratio = nb_ratio(vectorizer.fit_transform(texts), y)
    rows, weights = with_clauses(lang, examples)
    clf = LogisticRegression(C=c, max_iter=5000)
    clf.fit(design(lang, vectorizer, ratio, [e.text for e in rows]),
            np.array([e.label for e in rows]), sample_weight=weights)
    return vectorizer, ratio, clf


def fit(lang: str, parts: dict[str, list[trainset.Example]]) -> dict:
    """C is chosen and the probabilities calibrated on the validation split with a model
    trained on the train split; the shipped model is then refit on train + validation with
    that C (12% more data) and keeps the calibration. The test split is never read."""
    val_x = [e.text for e in parts["validation"]]
    y_val = np.array([e.label for e in parts["validation"]])
    best = None
    for c in C_GRID[lang]:
        vectorizer, ratio, clf = train_once(lang, parts["train"], c)
        val_logits = clf.decision_function(design(lang, vectorizer, ratio, val_x))
        right = (val_logits > 0) == (y_val == 1)
        acc = float(right.mean())
        short = np.array([len(t) <= SHORT_COMMENT for t in val_x])
        print(f"  {lang} C={c}: validation accuracy {acc:.4f}, on {short.sum()} comments of "
              f"<= {SHORT_COMMENT} characters {right[short].mean():.4f}", flush=True)
        if best is None or acc > best[0]:
            best = (acc, c, val_logits)
    val_acc, c, val_logits = best  # type: ignore[misc]
    # Platt scaling of the raw logit on the validation split.
    platt = LogisticRegression(C=1e6).fit(val_logits.reshape(-1, 1), y_val)
    val_calibrated = platt.decision_function(val_logits.reshape(-1, 1))
    final = parts["train"] + parts["validation"]
    vectorizer, ratio, clf = train_once(lang, final, c)
    n_sparse = len(ratio)
    coef = clf.coef_.ravel()
    folded = coef[:n_sparse] * ratio
    dense = coef[n_sparse:] * DENSE_SCALE
    names = vectorizer.get_feature_names_out()
    keep = np.abs(folded) >= PRUNE_BELOW
    return {
        "names": [str(n) for n in names[keep]],
        "weights": folded[keep].astype(np.float32),
        "dense": dense.astype(np.float32),
        "meta": {
            "lang": lang,
            "version": MODEL_VERSION,
            "bias": float(clf.intercept_[0]),
            "calibration": {"a": float(platt.coef_[0][0]), "b": float(platt.intercept_[0])},
            "neutral_band": NEUTRAL_BAND,
            "C": c,
            "validation_accuracy": round(val_acc, 4),
            "train_size": len(parts["train"]),
            "validation_size": len(parts["validation"]),
            "refit_size": len(final),
            "clause_weight": CLAUSE_WEIGHT[lang],
            "features": int(keep.sum()),
        },
        # Calibrated logits of the train-only model on validation: what the cascade's
        # stacking and margin are chosen on (out of sample for the n-gram model).
        "validation_logits": val_calibrated,  # saved too: --e5-only starts from them
    }


def save(model: dict, path: Path) -> None:
    """Writes the model; `e5_coef` is empty when the model has no cascade."""
    joined = "\n".join(model["names"])
    if any("\n" in n for n in model["names"]):
        raise ValueError("feature names must not contain newlines")
    np.savez_compressed(
        path,
        features=np.frombuffer(joined.encode("utf-8"), dtype=np.uint8),
        weights=model["weights"],
        dense=model["dense"],
        e5_coef=model.get("e5_coef", np.zeros(0, np.float32)),
        e5_hidden_w=model.get("e5_hidden_w", np.zeros(0, np.float32)),
        e5_hidden_b=model.get("e5_hidden_b", np.zeros(0, np.float32)),
        validation_logits=model["validation_logits"].astype(np.float32),
        meta=np.frombuffer(json.dumps(model["meta"]).encode("utf-8"), dtype=np.uint8),
    )


def load(path: Path) -> dict:
    """A saved model as `fit` returns it, without its cascade (for --e5-only)."""
    with np.load(path, allow_pickle=False) as archive:
        meta = json.loads(archive["meta"].tobytes().decode("utf-8"))
        meta.pop("cascade", None)
        return {
            "names": archive["features"].tobytes().decode("utf-8").split("\n"),
            "weights": archive["weights"], "dense": archive["dense"], "meta": meta,
            "validation_logits": archive["validation_logits"].astype(np.float64),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vader-archive", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    parser.add_argument("--lang", choices=("zh", "en", "both"), default="both")
    parser.add_argument("--no-e5", action="store_true",
                        help="ship the n-gram model alone (no cascade)")
    parser.add_argument("--embedding-cache", type=Path, default=Path("e5cache"),
                        help="folder (outside git) keeping e5 embeddings between runs")
    parser.add_argument("--e5-train-limit", type=int, default=cascade.TRAIN_LIMIT,
                        help="train texts per language embedded for the e5 head")
    parser.add_argument("--e5-only", action="store_true",
                        help="keep the n-gram model in --out and (re)train its cascade only")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        archive = args.vader_archive or fetch_vader_archive(Path(tmp))
        lexicon = trainset.load_vader_lexicon(archive)
        (args.out / "en_valence.json").write_text(
            json.dumps(lexicon, ensure_ascii=False, sort_keys=True), encoding="utf-8"
        )
        sources = {"zh": trainset.load_zh, "en": lambda: trainset.load_en(archive)}
        for lang in ("zh", "en") if args.lang == "both" else (args.lang,):
            examples, stats = trainset.dedupe(sources[lang]())
            parts = trainset.split(examples)
            print(f"{lang}: {stats}, split " + ", ".join(
                f"{k}={len(v)}" for k, v in parts.items()), flush=True)
            path = args.out / f"sentiment_{lang}.npz"
            model = load(path) if args.e5_only else fit(lang, parts)
            if not args.no_e5:
                cascade.fit(lang, parts, model, cascade.EmbeddingCache(args.embedding_cache),
                            args.e5_train_limit)
            save(model, path)
            print(f"{lang}: saved {model['meta']}", flush=True)


if __name__ == "__main__":
    main()
