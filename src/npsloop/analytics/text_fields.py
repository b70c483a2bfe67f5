"""Text-analysis columns for response exports, read from the text-mining domain's tables
(sentiment, keywords, topics) when that domain is installed. Two indexed queries per batch
of exported responses, keyed by response id."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

COLUMNS = ["text:sentiment", "text:sentiment_score", "text:keywords", "text:topics"]


def available() -> bool:
    try:
        import npsloop.textmining.models  # noqa: F401
    except ImportError:
        return False
    return True


def export_values(
    session: Session, *, org_id: str, response_ids: list[str]
) -> dict[str, dict[str, object]]:
    from npsloop.textmining.models import ResponseTextAnalysis, ResponseTextTopic, TextTopic

    if not response_ids:
        return {}
    values: dict[str, dict[str, Any]] = {}
    analyses = session.execute(
        select(ResponseTextAnalysis.response_id, ResponseTextAnalysis.sentiment_label,
               ResponseTextAnalysis.sentiment_score, ResponseTextAnalysis.keywords)
        .where(ResponseTextAnalysis.org_id == org_id,
               ResponseTextAnalysis.response_id.in_(response_ids))
    )
    for response_id, label, score, keywords in analyses:
        values[response_id] = {
            "text:sentiment": label,
            "text:sentiment_score": None if score is None else round(float(score), 4),
            "text:keywords": "; ".join(keywords or []),
        }
    topics = session.execute(
        select(ResponseTextTopic.response_id, TextTopic.key)
        .join(TextTopic, TextTopic.id == ResponseTextTopic.topic_id)
        .where(ResponseTextTopic.org_id == org_id, ResponseTextTopic.response_id.in_(response_ids))
        .order_by(ResponseTextTopic.response_id, TextTopic.key)
    )
    for response_id, key in topics:
        slot = values.setdefault(response_id, {})
        slot["text:topics"] = f"{slot['text:topics']}; {key}" if slot.get("text:topics") else key
    return values
