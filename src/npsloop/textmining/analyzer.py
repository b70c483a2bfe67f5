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


def model_version(margin: float | None = None) -> str:
    """The shipped model's version plus the e5 routing margin in force (if any)."""
    return sentiment.model("zh").meta["version"] + sentiment.version_tag(margin)


def prefetch_sentiment(comments: Iterable[str], margin: float | None = None) -> None:
    """Scores a batch of comments at once, so that the ones routed to e5 are embedded in one
    call; the per-comment analysis that follows finds their e5 scores cached."""
    if not any(sentiment.margin_for(lang, margin) for lang in sentiment.LANGS):
        return  # the n-gram model alone: nothing to batch
    items = []
    for comment in comments:
        guess = language.detect(comment)
        items.append((comment, guess.language, guess.zh_share))
    sentiment.analyse_many(items, margin)


def analyse_text(
    comment: str,
    *,
    vocabulary: text.Vocabulary = text.DEFAULT_VOCABULARY,
    rules: Iterable[topics.TopicRule] = (),
    corpus: text.CorpusStats = text.EMPTY_CORPUS,
    margin: float | None = None,
) -> TextAnalysis:
    guess = language.detect(comment)
    mood = sentiment.analyse(comment, guess.language, guess.zh_share, margin)
    counted = text.term_counts(comment, vocabulary)
    return TextAnalysis(
        language=guess.language,
        sentiment_score=mood.score if mood else None,
        sentiment_label=mood.label if mood else None,
        keywords=text.keywords(comment, corpus, vocabulary, counted=counted),
        terms=list(counted),
        topic_hits=topics.match_topics(comment, rules),
    )
