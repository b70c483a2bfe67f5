"""One comment in, its language, sentiment, keywords, terms and topics out. No database."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from npsloop.textmining import language, sentiment, text, topics
from npsloop.textmining.features import normalize


@dataclass(frozen=True)
class TextAnalysis:
    language: str
    sentiment_score: float | None
    sentiment_label: str | None
    keywords: list[str]
    terms: list[str]
    topic_hits: dict[str, list[str]] = field(default_factory=dict)  # topic id -> keywords


def comment_hash(comment: str) -> str:
    return hashlib.sha1(normalize(comment).encode("utf-8")).hexdigest()


def model_version() -> str:
    return sentiment.model("zh").meta["version"]


def analyse_text(
    comment: str,
    *,
    vocabulary: text.Vocabulary = text.DEFAULT_VOCABULARY,
    rules: Iterable[topics.TopicRule] = (),
    corpus: text.CorpusStats = text.EMPTY_CORPUS,
) -> TextAnalysis:
    guess = language.detect(comment)
    mood = sentiment.analyse(comment, guess.language, guess.zh_share)
    counted = text.term_counts(comment, vocabulary)
    return TextAnalysis(
        language=guess.language,
        sentiment_score=mood.score if mood else None,
        sentiment_label=mood.label if mood else None,
        keywords=text.keywords(comment, corpus, vocabulary, counted=counted),
        terms=list(counted),
        topic_hits=topics.match_topics(comment, rules),
    )
