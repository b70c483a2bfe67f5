"""Tokens, terms and keywords of comments, per organisation vocabulary.

Chinese goes through jieba with the shipped domain dictionary (快递员, 性价比, 闪退...). An
organisation's own words (brand and product names) are protected exactly: the text is
split around their longest occurrences before jieba sees it, so they stay whole for this
organisation only (jieba's global `add_word` would leak one organisation's words into
another's segmentation). English uses a regex tokenizer. Stop words are the shipped lists
plus the organisation's additions.

A comment's *terms* are its content words plus adjacent-word phrases ("customer service",
"快递 太慢" -> "快递太慢"); keywords are the terms ranked by TF-IDF against the
organisation's corpus document frequencies.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from npsloop.textmining.features import DATA_DIR, en_tokens, normalize, segmenter
from npsloop.textmining.language import HAN

PHRASE_MAX_CHARS = 8
CLAUSE_SPLIT = re.compile(r"[,.!?;:\n\u3001\u3002\uff0c\uff01\uff1f\uff1b~]+")


def _read_list(name: str) -> list[str]:
    lines = (DATA_DIR / name).read_text(encoding="utf-8").splitlines()
    return [w for line in lines if line.strip() and not line.startswith("#")
            for w in line.split()]


@lru_cache(maxsize=1)
def default_stop_words() -> frozenset[str]:
    return frozenset(_read_list("stopwords_zh.txt") + _read_list("stopwords_en.txt"))


@dataclass(frozen=True)
class Vocabulary:
    """An organisation's additions to the shipped dictionary and stop words."""

    custom_words: tuple[str, ...] = ()
    stop_words: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, custom_words: Iterable[str] = (), stop_words: Iterable[str] = ()) -> Vocabulary:
        words = sorted({w.strip().lower() for w in custom_words if w.strip()}, key=len,
                       reverse=True)
        return cls(tuple(words), frozenset(w.strip().lower() for w in stop_words if w.strip()))

    def is_stop(self, token: str) -> bool:
        return token in self.stop_words or token in default_stop_words()

    @property
    def pattern(self) -> re.Pattern[str] | None:
        return _custom_pattern(self.custom_words)


@lru_cache(maxsize=256)
def _custom_pattern(words: tuple[str, ...]) -> re.Pattern[str] | None:
    if not words:
        return None
    return re.compile("|".join(re.escape(w) for w in words))


DEFAULT_VOCABULARY = Vocabulary()


def _segment_zh(piece: str) -> list[str]:
    return [w for w in segmenter().lcut(piece) if w.strip()]


def tokens(text: str, vocabulary: Vocabulary = DEFAULT_VOCABULARY) -> list[str]:
    """All word tokens in reading order, lower-cased; custom words kept whole."""
    lowered = normalize(text).lower()
    pieces: list[tuple[str, bool]] = []
    pattern = vocabulary.pattern
    pos = 0
    if pattern is not None:
        for match in pattern.finditer(lowered):
            pieces.append((lowered[pos : match.start()], False))
            pieces.append((match.group(0), True))
            pos = match.end()
    pieces.append((lowered[pos:], False))
    out: list[str] = []
    for piece, protected in pieces:
        if protected:
            out.append(piece)
        elif HAN.search(piece):
            for word in _segment_zh(piece):
                if HAN.search(word):
                    out.append(word)
                else:
                    out.extend(t for t in en_tokens(word) if t.isalnum())
        else:
            out.extend(t for t in en_tokens(piece) if t[0].isalnum())
    return out


def _is_content(token: str, vocabulary: Vocabulary) -> bool:
    if vocabulary.is_stop(token) or token.isdigit():
        return False
    if token in vocabulary.custom_words:
        return True
    return len(token) >= 2 if HAN.search(token) else len(token) >= 3


def term_counts(text: str, vocabulary: Vocabulary = DEFAULT_VOCABULARY) -> Counter[str]:
    """Content words, then phrases of two adjacent content words of one clause, counted
    (insertion order: words first, then phrases)."""
    words: Counter[str] = Counter()
    phrases: Counter[str] = Counter()
    for clause in CLAUSE_SPLIT.split(normalize(text)):
        clause_words = tokens(clause, vocabulary)
        content = [(i, w) for i, w in enumerate(clause_words) if _is_content(w, vocabulary)]
        words.update(w for _, w in content)
        for (i, a), (j, b) in zip(content, content[1:], strict=False):
            if j != i + 1:
                continue
            phrase = a + b if HAN.search(a) and HAN.search(b) else f"{a} {b}"
            if len(phrase) <= PHRASE_MAX_CHARS or " " in phrase:
                phrases[phrase] += 1
    words.update(phrases)
    return words


def terms(text: str, vocabulary: Vocabulary = DEFAULT_VOCABULARY) -> list[str]:
    return list(term_counts(text, vocabulary))


@dataclass(frozen=True)
class CorpusStats:
    """Document frequencies of terms over (a capped sample of) an organisation's comments."""

    documents: int
    frequencies: dict[str, int]

    def idf(self, term: str) -> float:
        return math.log((self.documents + 1) / (self.frequencies.get(term, 0) + 1)) + 1.0


EMPTY_CORPUS = CorpusStats(0, {})


def keywords(text: str, corpus: CorpusStats = EMPTY_CORPUS,
             vocabulary: Vocabulary = DEFAULT_VOCABULARY, limit: int = 5,
             counted: Counter[str] | None = None) -> list[str]:
    """Top terms of one comment by TF-IDF; a phrase gets a small bonus over its parts."""
    counts = counted if counted is not None else term_counts(text, vocabulary)
    scored = [(tf * corpus.idf(term) * (1.2 if " " in term or len(term) > 3 else 1.0), term)
              for term, tf in counts.items()]
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [term for _, term in scored[:limit]]


def corpus_stats(term_lists: Iterable[list[str]]) -> CorpusStats:
    frequencies: Counter[str] = Counter()
    documents = 0
    for found in term_lists:
        documents += 1
        frequencies.update(set(found))
    return CorpusStats(documents, dict(frequencies))


def selection_keywords(term_lists: Iterable[list[str]], corpus: CorpusStats,
                       limit: int = 50) -> list[dict[str, float | int | str]]:
    """Keywords of a selection: document count in it x idf in the organisation's corpus."""
    selection = corpus_stats(term_lists)
    ranked = sorted(
        ((count * corpus.idf(term), count, term) for term, count in
         selection.frequencies.items() if count >= 2 or selection.documents < 20),
        key=lambda item: (-item[0], item[2]),
    )
    return [{"term": term, "count": count, "weight": round(weight, 3)}
            for weight, count, term in ranked[:limit]]
