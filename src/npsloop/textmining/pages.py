"""Text pages: /text (topics, word cloud, comment explorer) and /text/topics (taxonomy).

Numbers come from textmining.stats (SQL); this module parses the query, shapes rows for the
template and hands chart data to /static/js/textmining.js as JSON (the CSP forbids inline
scripts). Forms post with the session's CSRF token and redirect (303) back.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup, escape

from npsloop.accounts.deps import Principal, require
from npsloop.analytics.filters import Filters
from npsloop.analytics.params import resolve_filters
from npsloop.core.deps import SessionDep, request_language
from npsloop.core.i18n import translate
from npsloop.textmining import service, stats
from npsloop.textmining.models import TextTopic
from npsloop.web.templating import render

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, Depends(require("stats:read", page=True))]
Writer = Annotated[Principal, Depends(require("survey:write", page=True))]
PAGE_SIZE = 20
EXPLORER_PARAMS = ("topic_id", "sentiment", "keyword", "category", "page")
CLOUD_MIN_PX, CLOUD_MAX_PX = 13, 34


def topic_name(topic: TextTopic, lang: str) -> str:
    return topic.name_zh if lang == "zh-CN" else topic.name_en


def highlighted(comment: str, spans: list[list[int]]) -> Markup:
    """The comment with <mark> around each span; everything else escaped."""
    out, pos = [], 0
    for start, end in spans:
        out.append(escape(comment[pos:start]))
        out.append(Markup("<mark>") + escape(comment[start:end]) + Markup("</mark>"))
        pos = end
    out.append(escape(comment[pos:]))
    return Markup("").join(out)


def cloud(keywords: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Word-cloud entries with a font size scaled by weight (square root: area ~ weight)."""
    if not keywords:
        return []
    top = max(float(k["weight"]) for k in keywords) or 1.0
    entries = []
    for k in keywords:
        ratio = (float(k["weight"]) / top) ** 0.5
        size = round(CLOUD_MIN_PX + (CLOUD_MAX_PX - CLOUD_MIN_PX) * ratio)
        entries.append({**k, "size": size, "level": 1 + min(3, int(ratio * 4))})
    # Alphabetical order mixes big and small words the way a cloud does, and is stable.
    return sorted(entries, key=lambda e: str(e["term"]))


def _link(params: dict[str, str], **changes: str | None) -> str:
    merged = {**params, **{k: v for k, v in changes.items() if v is not None}}
    merged = {k: v for k, v in merged.items() if v not in ("", None)}
    if "page" not in changes:
        merged.pop("page", None)
    return "/text" + ("?" + urlencode(merged) if merged else "")


@router.get("/text", response_class=HTMLResponse)
def text_page(request: Request, db: SessionDep, principal: Reader) -> HTMLResponse:
    request.state.principal = principal
    lang = request_language(request)
    error = None
    try:
        ctx = resolve_filters(request, db, principal, allowed=EXPLORER_PARAMS)
        filters, tz = ctx.filters, ctx.tz
    except HTTPException as exc:
        detail = exc.detail if isinstance(exc.detail, str) else exc.detail[0]
        error = detail if isinstance(detail, str) else f"{detail['loc'][-1]}: {detail['msg']}"
        filters, tz = Filters(), "UTC"
    service.ensure_taxonomy(db, principal.org_id)
    db.commit()
    params = {k: v for k, v in request.query_params.items() if k != "lang"}
    q = stats.ExplorerQuery(
        topic_id=params.get("topic_id") or None,
        sentiment=params.get("sentiment") if params.get("sentiment") in
        stats.SENTIMENT_LABELS else None,
        keyword=(params.get("keyword") or "").strip()[:100] or None,
        category=params.get("category") if params.get("category") in stats.CATEGORIES else None,
    )
    topics_by_id = {t.id: t for t in service.list_topics(db, principal.org_id)}
    if q.topic_id and q.topic_id not in topics_by_id:
        q.topic_id, error = None, "topic_id: not found"
    try:
        page = max(0, int(params.get("page", "0")))
    except ValueError:
        page = 0
    topic_result = stats.topic_stats(db, org_id=principal.org_id, filters=filters, tz=tz,
                                     min_n=request.app.state.settings.min_responses_for_stats)
    rows = [s for s in topic_result["topics"] if s.n > 0 and s.topic.active]
    items, total = stats.search_comments(db, org_id=principal.org_id, filters=filters, q=q,
                                         limit=PAGE_SIZE, offset=page * PAGE_SIZE)
    words = stats.selection_keywords(db, org_id=principal.org_id, filters=filters, q=q,
                                     limit=60)
    breakdown = stats.sentiment_breakdown(db, org_id=principal.org_id, filters=filters)
    by_key = {t.key: t for t in topics_by_id.values()}
    for item in items:
        item["html"] = highlighted(item["comment"], item["highlights"])
        item["topic_names"] = [(by_key[k].id, topic_name(by_key[k], lang))
                               for k in item["topics"] if k in by_key]
    chart = {
        "impact": [{"name": topic_name(s.topic, lang), "impact": s.nps_impact, "n": s.n,
                    "nps": s.nps, "sentiment": s.avg_sentiment} for s in rows[:12]],
        "trend": [{"name": topic_name(s.topic, lang), "points": s.trend}
                  for s in sorted(rows, key=lambda s: -s.n)[:5]],
    }
    context = {
        "error": error, "params": params, "q": q, "page": page, "total": total,
        "pages": (total + PAGE_SIZE - 1) // PAGE_SIZE, "items": items,
        "rows": rows, "overall": topic_result, "cloud": cloud(words["keywords"]),
        "documents": words["documents"], "capped": words["capped"], "breakdown": breakdown,
        "topics": sorted(topics_by_id.values(), key=lambda t: topic_name(t, lang)),
        "topics_by_id": topics_by_id,
        "topic_name": lambda t: topic_name(t, lang), "link": lambda **c: _link(params, **c),
        "selected_topic": topics_by_id.get(q.topic_id or ""), "chart": chart,
        "labels": {"impact": translate("text.chart.impact", lang),
                   "n": translate("text.col.volume", lang), "nps": translate("text.col.nps", lang),
                   "trend": translate("text.chart.trend", lang)},
    }
    return render(request, "text.html", context)


def _lines(raw: str) -> list[str]:
    return [w.strip() for part in raw.replace("，", ",").splitlines() for w in part.split(",")
            if w.strip()]


def _synonyms(raw: str) -> dict[str, list[str]]:
    """Lines of "keyword: variant, variant"."""
    out: dict[str, list[str]] = {}
    for line in raw.splitlines():
        head, sep, tail = line.replace("：", ":").partition(":")
        if sep and head.strip():
            out[head.strip()] = _lines(tail)
    return out


@router.get("/text/topics", response_class=HTMLResponse)
def topics_page(request: Request, db: SessionDep, principal: Reader) -> HTMLResponse:
    request.state.principal = principal
    lang = request_language(request)
    service.ensure_taxonomy(db, principal.org_id)
    db.commit()
    topics = service.list_topics(db, principal.org_id)
    children: dict[str | None, list[TextTopic]] = {}
    for t in topics:
        children.setdefault(t.parent_id, []).append(t)
    ordered: list[tuple[TextTopic, int]] = []

    def walk(parent: str | None, depth: int) -> None:
        for t in sorted(children.get(parent, []), key=lambda t: topic_name(t, lang)):
            ordered.append((t, depth))
            walk(t.id, depth + 1)

    walk(None, 0)
    settings_row = service.settings_row(db, principal.org_id)
    db.commit()
    context = {
        "ordered": ordered, "topics": topics, "topic_name": lambda t: topic_name(t, lang),
        "can_edit": principal.can("survey:write"), "saved": request.query_params.get("saved"),
        "error": request.query_params.get("error"), "vocab": settings_row,
        "synonym_text": lambda t: "\n".join(f"{k}: {', '.join(v)}"
                                            for k, v in (t.synonyms or {}).items()),
    }
    return render(request, "text_topics.html", context)


def _redirect(**params: str) -> RedirectResponse:
    return RedirectResponse("/text/topics?" + urlencode(params), status_code=303)


@router.post("/text/topics", response_class=HTMLResponse)
async def save_topic_form(request: Request, db: SessionDep, principal: Writer) -> Response:
    form = await request.form()
    field = {k: str(v) for k, v in form.items()}
    topic = None
    if field.get("topic_id"):
        topic = service.get_topic(db, principal.org_id, field["topic_id"])
        if topic is None:
            raise HTTPException(404, "topic not found")
    data = service.TopicInput(
        key=field.get("key", "").strip() or None, name_zh=field.get("name_zh", ""),
        name_en=field.get("name_en", ""), parent_id=field.get("parent_id", ""),
        keywords={"zh": _lines(field.get("keywords_zh", "")),
                  "en": _lines(field.get("keywords_en", ""))},
        synonyms=_synonyms(field.get("synonyms", "")),
        active=field.get("active") == "on" if topic is not None else None,
    )
    try:
        service.save_topic(db, principal.org_id, data, topic=topic)
    except service.TextError as exc:
        db.rollback()
        return _redirect(error=f"{exc.field}: {exc.message}")
    db.commit()
    return _redirect(saved="topic")


@router.post("/text/topics/{topic_id}/delete", response_class=HTMLResponse)
def delete_topic_form(topic_id: str, db: SessionDep, principal: Writer) -> Response:
    topic = service.get_topic(db, principal.org_id, topic_id)
    if topic is None:
        raise HTTPException(404, "topic not found")
    db.delete(topic)
    db.commit()
    return _redirect(saved="deleted")


@router.post("/text/vocabulary", response_class=HTMLResponse)
async def save_vocabulary_form(request: Request, db: SessionDep, principal: Writer) -> Response:
    form = await request.form()
    try:
        service.update_vocabulary(db, principal.org_id,
                                  custom_words=_lines(str(form.get("custom_words", ""))),
                                  stop_words=_lines(str(form.get("stop_words", ""))))
    except service.TextError as exc:
        db.rollback()
        return _redirect(error=f"{exc.field}: {exc.message}")
    db.commit()
    return _redirect(saved="vocabulary")
