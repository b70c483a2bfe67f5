"""Sentiment features shared by the training script and the runtime model.

Both sides call the same functions, so a model trained by `scripts/train_sentiment.py`
sees exactly the features it will see in production.

Chinese: jieba words, word bigrams and character 1-4 grams (characters carry most of the
signal in short, informally segmented comments). English: lower-cased words with negation
scope marking ("not good" -> NOT_good until the next punctuation), word bigrams and
character 3-5 grams inside word boundaries (robust to typos and inflection), plus three
dense lexicon features from a VADER-style valence sum.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import jieba

DATA_DIR = Path(__file__).resolve().parent / "data"
jieba.setLogLevel(60)


@lru_cache(maxsize=1)
def segmenter() -> jieba.Tokenizer:
    """The one jieba instance of the process: jieba's dictionary plus the shipped domain
    dictionary (快递员, 性价比, 闪退...). Sentiment features, keywords and training all use it,
    so the model sees the segmentation it was trained on, and the ~50 MB dictionary is
    loaded once."""
    tokenizer = jieba.Tokenizer()
    for line in (DATA_DIR / "domain_dict_zh.txt").read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if parts and not line.startswith("#"):
            tokenizer.add_word(parts[0], int(parts[1]) if len(parts) > 1 else None)
    return tokenizer

EN_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[!?.,;:]")
WHITESPACE = re.compile(r"\s+")
NEGATIONS = frozenset({
    "not", "no", "never", "nothing", "nobody", "nowhere", "without", "hardly", "neither",
    "nor", "cannot", "cant", "dont", "wont", "isnt", "wasnt", "didnt", "doesnt", "aint",
})
CLAUSE_END = frozenset("!?.,;:")
BOOSTERS = {
    "very": 0.293, "really": 0.293, "extremely": 0.293, "so": 0.293, "too": 0.293,
    "super": 0.293, "totally": 0.293, "absolutely": 0.293, "incredibly": 0.293,
    "slightly": -0.293, "somewhat": -0.293, "barely": -0.293, "kinda": -0.293,
}


def normalize(text: str) -> str:
    """NFKC (full-width to half-width), trimmed, whitespace collapsed."""
    return WHITESPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def zh_features(text: str) -> list[str]:
    lowered = normalize(text).lower()
    words = [w for w in segmenter().lcut(lowered) if w.strip()]
    feats = ["w:" + w for w in words]
    feats += ["b:" + a + "|" + b for a, b in zip(words, words[1:], strict=False)]
    chars = WHITESPACE.sub("", lowered)
    for n in (1, 2, 3, 4):
        feats += ["c:" + chars[i : i + n] for i in range(len(chars) - n + 1)]
    return feats


def en_tokens(text: str) -> list[str]:
    return EN_TOKEN.findall(normalize(text).lower().replace("\u2019", "'"))


def _negated(tokens: list[str]) -> list[str]:
    out: list[str] = []
    negating = False
    for tok in tokens:
        if tok in CLAUSE_END:
            negating = False
            out.append(tok)
        elif tok in NEGATIONS or tok.endswith("n't"):
            negating = True
            out.append(tok)
        else:
            out.append("NOT_" + tok if negating else tok)
    return out


def en_features(text: str) -> list[str]:
    tokens = en_tokens(text)
    marked = _negated(tokens)
    feats = ["w:" + w for w in marked]
    feats += ["b:" + a + "|" + b for a, b in zip(marked, marked[1:], strict=False)]
    for tok in tokens:
        if tok in CLAUSE_END:
            continue
        padded = f" {tok} "
        for n in (3, 4, 5):
            feats += ["c:" + padded[i : i + n] for i in range(len(padded) - n + 1)]
    return feats


@lru_cache(maxsize=1)
def valence_lexicon() -> dict[str, float]:
    """Word -> mean human valence (-4..4), from VADER's MIT-licensed lexicon."""
    with (DATA_DIR / "en_valence.json").open(encoding="utf-8") as fh:
        return json.load(fh)


def en_lexicon_features(text: str) -> tuple[float, float, float]:
    """(normalized valence sum, positive mass, negative mass): a small VADER-like scorer.

    Negation flips and damps a word (x -0.74), a preceding booster scales it, words after
    "but" weigh 1.5x and words before it 0.5x, and "!" adds emphasis, as in VADER.
    """
    lexicon = valence_lexicon()
    tokens = en_tokens(text)
    values: list[float] = []
    but_at = -1
    for i, tok in enumerate(tokens):
        if tok == "but":
            but_at = len(values)
        value = lexicon.get(tok)
        if value is None:
            continue
        window = tokens[max(0, i - 3) : i]
        if any(w in NEGATIONS or w.endswith("n't") for w in window):
            value *= -0.74
        if i > 0 and tokens[i - 1] in BOOSTERS:
            boost = BOOSTERS[tokens[i - 1]]
            value += boost if value > 0 else -boost
        values.append(value)
    if but_at >= 0:
        values = [v * 0.5 for v in values[:but_at]] + [v * 1.5 for v in values[but_at:]]
    total = sum(values)
    if total:
        total += min(tokens.count("!"), 4) * 0.292 * (1 if total > 0 else -1)
    compound = total / math.sqrt(total * total + 15) if total else 0.0
    positive = sum(v for v in values if v > 0)
    negative = -sum(v for v in values if v < 0)
    mass = positive + negative + 1.0
    return compound, positive / mass, negative / mass


FEATURIZERS = {"zh": zh_features, "en": en_features}
