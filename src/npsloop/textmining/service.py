"""Text-mining state in the database: vocabulary, topics, per-response analysis, reprocess.

Every function takes the caller's org_id and filters by it.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from npsloop.core.db import utcnow
from npsloop.responses.models import Response
from npsloop.textmining import text, topics
from npsloop.textmining.analyzer import (
    analyse_text,
    comment_hash,
    model_version,
    prefetch_sentiment,
)
from npsloop.textmining.models import (
    ResponseTextAnalysis,
    ResponseTextTopic,
    TextSettings,
    TextTopic,
)

CORPUS_CAP = 5000  # the org corpus for IDF is its latest analysed comments, at most this many
CORPUS_TTL_S = 600
TOPIC_KEY = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")
MAX_TERMS_PER_LANG = 200
MAX_TERM_CHARS = 50


class TextError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# --- vocabulary -------------------------------------------------------------------------

def settings_row(session: Session, org_id: str) -> TextSettings:
    row = session.get(TextSettings, org_id)
    if row is None:
        try:
            with session.begin_nested():  # several workers may create it at once
                row = TextSettings(org_id=org_id, custom_words=[], stop_words=[],
                                   taxonomy_seeded=False)
                session.add(row)
        except IntegrityError:  # another worker's row won (and is committed: we waited)
            row = session.get(TextSettings, org_id)
            assert row is not None
    return row


def vocabulary(session: Session, org_id: str) -> text.Vocabulary:
    row = session.get(TextSettings, org_id)
    if row is None:
        return text.DEFAULT_VOCABULARY
    return text.Vocabulary.of(row.custom_words, row.stop_words)


def _clean_terms(field: str, values: list[str]) -> list[str]:
    if len(values) > 2000:
        raise TextError(field, "at most 2000 entries")
    cleaned = []
    for value in values:
        value = value.strip().lower()
        if not value:
            continue
        if len(value) > MAX_TERM_CHARS:
            raise TextError(field, f"'{value[:20]}...' is longer than {MAX_TERM_CHARS} characters")
        cleaned.append(value)
    return sorted(set(cleaned))


def update_vocabulary(session: Session, org_id: str, *, custom_words: list[str] | None = None,
                      stop_words: list[str] | None = None) -> TextSettings:
    row = settings_row(session, org_id)
    if custom_words is not None:
        row.custom_words = _clean_terms("custom_words", custom_words)
    if stop_words is not None:
        row.stop_words = _clean_terms("stop_words", stop_words)
    return row


# --- topics -----------------------------------------------------------------------------

def ensure_taxonomy(session: Session, org_id: str) -> None:
    """Seeds the default taxonomy once per organisation (deleted topics stay deleted)."""
    row = settings_row(session, org_id)
    if row.taxonomy_seeded:
        return
    ids: dict[str, str] = {}
    for default, parent_key in topics.flatten(topics.DEFAULT_TAXONOMY):
        topic = TextTopic(
            org_id=org_id, key=default.key, name_zh=default.name_zh, name_en=default.name_en,
            parent_id=ids.get(parent_key or ""), keywords={"zh": default.zh, "en": default.en},
            synonyms={}, source="default", active=True,
        )
        session.add(topic)
        session.flush()
        ids[default.key] = topic.id
    row.taxonomy_seeded = True
    session.flush()


def list_topics(session: Session, org_id: str) -> list[TextTopic]:
    return list(session.scalars(
        select(TextTopic).where(TextTopic.org_id == org_id).order_by(TextTopic.created_at,
                                                                     TextTopic.key)
    ))


def get_topic(session: Session, org_id: str, topic_id: str) -> TextTopic | None:
    return session.scalar(
        select(TextTopic).where(TextTopic.org_id == org_id, TextTopic.id == topic_id)
    )


def _validate_keywords(keywords: dict[str, list[str]]) -> dict[str, list[str]]:
    out = {}
    for lang, words in keywords.items():
        if lang not in ("zh", "en"):
            raise TextError(f"keywords.{lang}", "language must be 'zh' or 'en'")
        if len(words) > MAX_TERMS_PER_LANG:
            raise TextError(f"keywords.{lang}", f"at most {MAX_TERMS_PER_LANG} keywords")
        out[lang] = _clean_terms(f"keywords.{lang}", words)
    return out


def _validate_synonyms(synonyms: dict[str, list[str]]) -> dict[str, list[str]]:
    if len(synonyms) > MAX_TERMS_PER_LANG:
        raise TextError("synonyms", f"at most {MAX_TERMS_PER_LANG} entries")
    return {k.strip().lower(): _clean_terms(f"synonyms.{k}", v)
            for k, v in synonyms.items() if k.strip()}


@dataclass
class TopicInput:
    key: str | None = None
    name_zh: str | None = None
    name_en: str | None = None
    parent_id: str | None = None
    keywords: dict[str, list[str]] | None = None
    synonyms: dict[str, list[str]] | None = None
    active: bool | None = None


def _check_parent(session: Session, org_id: str, topic: TextTopic | None,
                  parent_id: str) -> None:
    parent = get_topic(session, org_id, parent_id)
    if parent is None:
        raise TextError("parent_id", "no such topic in this organisation")
    cursor: TextTopic | None = parent
    while cursor is not None:
        if topic is not None and cursor.id == topic.id:
            raise TextError("parent_id", "a topic cannot be its own ancestor")
        cursor = get_topic(session, org_id, cursor.parent_id) if cursor.parent_id else None


def save_topic(session: Session, org_id: str, data: TopicInput, topic: TextTopic | None = None,
               source: str = "manual") -> TextTopic:
    if topic is None:
        if not data.key or not TOPIC_KEY.match(data.key):
            raise TextError("key", "required: lower-case letters, digits, '_' or '-'")
        if session.scalar(select(TextTopic.id).where(TextTopic.org_id == org_id,
                                                     TextTopic.key == data.key)):
            raise TextError("key", f"'{data.key}' already exists")
        if not (data.name_zh or data.name_en):
            raise TextError("name_zh", "a topic needs a name in at least one language")
        topic = TextTopic(org_id=org_id, key=data.key, name_zh="", name_en="", keywords={},
                          synonyms={}, source=source, active=True)
        session.add(topic)
    if data.name_zh is not None or data.name_en is not None:
        name_zh = (data.name_zh if data.name_zh is not None else topic.name_zh).strip()
        name_en = (data.name_en if data.name_en is not None else topic.name_en).strip()
        if not (name_zh or name_en):
            raise TextError("name_zh", "a topic needs a name in at least one language")
        if max(len(name_zh), len(name_en)) > 100:
            raise TextError("name_zh", "at most 100 characters")
        topic.name_zh, topic.name_en = name_zh or name_en, name_en or name_zh
    if data.parent_id is not None:
        if data.parent_id == "":
            topic.parent_id = None
        else:
            _check_parent(session, org_id, topic if topic.id else None, data.parent_id)
            topic.parent_id = data.parent_id
    if data.keywords is not None:
        topic.keywords = _validate_keywords(data.keywords)
    if data.synonyms is not None:
        topic.synonyms = _validate_synonyms(data.synonyms)
    if data.active is not None:
        topic.active = data.active
    session.flush()
    return topic


def topic_rules(session: Session, org_id: str) -> list[topics.TopicRule]:
    return [topics.TopicRule.of(t.id, t.parent_id, t.keywords, t.synonyms)
            for t in list_topics(session, org_id) if t.active]


# --- corpus statistics (cached, capped) --------------------------------------------------

_corpus_cache: dict[str, tuple[float, text.CorpusStats]] = {}
_corpus_lock = threading.Lock()


def corpus(session: Session, org_id: str) -> text.CorpusStats:
    """Document frequencies over the org's latest CORPUS_CAP analysed comments (cached)."""
    now = time.monotonic()
    with _corpus_lock:
        cached = _corpus_cache.get(org_id)
        if cached and cached[0] > now:
            return cached[1]
    rows = session.scalars(
        select(ResponseTextAnalysis.terms).where(ResponseTextAnalysis.org_id == org_id)
        .order_by(ResponseTextAnalysis.analysed_at.desc()).limit(CORPUS_CAP)
    )
    stats = text.corpus_stats(rows)
    # A young corpus changes fast: cache it briefly until it has some weight.
    ttl = CORPUS_TTL_S if stats.documents >= 500 else 5
    with _corpus_lock:
        _corpus_cache[org_id] = (now + ttl, stats)
    return stats


# privacy.personal_data marks the analysis of an erased comment with this hash.
ERASED_COMMENT = "erased"


# --- per-response analysis ----------------------------------------------------------------

def analyse_response(session: Session, response: Response, *, force: bool = False,
                     context: dict[str, Any] | None = None,
                     margin: float | None = None) -> ResponseTextAnalysis | None:
    """Stores the analysis of a response's comment; a no-op if it is already current.

    `context` may carry precomputed vocabulary/rules/corpus for batch runs; `margin` is the
    sentiment's e5 routing margin (default: NPSLOOP_SENTIMENT_E5_MARGIN, see sentiment.py).
    """
    comment = (response.comment or "").strip()
    existing = session.get(ResponseTextAnalysis, response.id)
    if not comment:
        # An erased comment keeps its sentiment and topics for the aggregates.
        if existing is not None and existing.comment_hash != ERASED_COMMENT:
            _unlink(session, response.id)
            session.delete(existing)
            session.flush()
        return None
    digest = comment_hash(comment)
    version = model_version(margin)
    if (existing is not None and not force and existing.comment_hash == digest
            and existing.model_version == version):
        return existing
    ctx = context or analysis_context(session, response.org_id)
    result = analyse_text(comment, vocabulary=ctx["vocabulary"], rules=ctx["rules"],
                          corpus=ctx["corpus"], margin=margin)
    if existing is None:
        existing = ResponseTextAnalysis(response_id=response.id, org_id=response.org_id)
        session.add(existing)
    keys = ctx["topic_keys"]
    existing.language = result.language
    existing.sentiment_score = result.sentiment_score
    existing.sentiment_label = result.sentiment_label
    existing.keywords = result.keywords
    existing.terms = result.terms
    existing.topic_hits = {keys[tid]: hits for tid, hits in result.topic_hits.items()}
    existing.comment_hash = digest
    existing.model_version = version
    existing.analysed_at = utcnow()
    _unlink(session, response.id)
    session.add_all(ResponseTextTopic(response_id=response.id, topic_id=tid,
                                      org_id=response.org_id) for tid in result.topic_hits)
    session.flush()
    return existing


def _unlink(session: Session, response_id: str) -> None:
    # synchronize_session=False: the default would scan every object in the session per
    # call, which makes a 500-response batch quadratic.
    session.execute(
        delete(ResponseTextTopic).where(ResponseTextTopic.response_id == response_id)
        .execution_options(synchronize_session=False)
    )


def analysis_context(session: Session, org_id: str) -> dict[str, Any]:
    ensure_taxonomy(session, org_id)
    rules = topic_rules(session, org_id)
    return {
        "vocabulary": vocabulary(session, org_id),
        "rules": rules,
        "topic_keys": {t.id: t.key for t in list_topics(session, org_id)},
        "corpus": corpus(session, org_id),
    }


@dataclass
class ReprocessReport:
    scanned: int = 0
    analysed: int = 0
    unchanged: int = 0
    cleared: int = 0


def stale_comments(session: Session, responses: list[Response], *, force: bool = False,
                   margin: float | None = None) -> list[str]:
    """The comments of `responses` whose stored analysis is missing or out of date."""
    version = model_version(margin)
    stale = []
    for response in responses:
        comment = (response.comment or "").strip()
        if not comment:
            continue
        existing = session.get(ResponseTextAnalysis, response.id)
        if (force or existing is None or existing.comment_hash != comment_hash(comment)
                or existing.model_version != version):
            stale.append(comment)
    return stale


def reprocess(factory: sessionmaker[Session], *, org_id: str | None = None,
              batch_size: int = 500, force: bool = False,
              margin: float | None = None) -> ReprocessReport:
    """Re-analyses history in id order, one committed batch at a time (keyset paging, so
    memory stays flat and an interrupted run can simply be started again). The comments of
    a batch that the sentiment cascade routes to e5 are embedded in one call."""
    report = ReprocessReport()
    last_id = ""
    contexts: dict[str, dict[str, Any]] = {}
    while True:
        with factory() as session:
            query = select(Response).where(Response.id > last_id)
            if org_id:
                query = query.where(Response.org_id == org_id)
            batch = list(session.scalars(query.order_by(Response.id).limit(batch_size)))
            if not batch:
                return report
            # One query loads the batch's existing analyses into the identity map, so the
            # per-response lookups below cost no round trip.
            list(session.scalars(select(ResponseTextAnalysis).where(
                ResponseTextAnalysis.response_id.in_([r.id for r in batch]))))
            prefetch_sentiment(stale_comments(session, batch, force=force, margin=margin),
                               margin)
            for response in batch:
                ctx = contexts.get(response.org_id)
                if ctx is None:
                    ctx = contexts[response.org_id] = analysis_context(session, response.org_id)
                before = session.get(ResponseTextAnalysis, response.id)
                before_state = (before.comment_hash, before.model_version,
                                before.analysed_at) if before else None
                after = analyse_response(session, response, force=force, context=ctx,
                                         margin=margin)
                report.scanned += 1
                if after is None:
                    report.cleared += before_state is not None
                elif before_state and before_state[2] == after.analysed_at:
                    report.unchanged += 1
                else:
                    report.analysed += 1
            session.commit()
            last_id = batch[-1].id
