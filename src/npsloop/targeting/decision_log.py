"""Reading the decision log: one organisation, a time range, optional filters, newest first,
with counts per rule over the same filters (the rule filter aside, so the counts show what
else is refusing)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session

from npsloop.contacts.models import Contact
from npsloop.core.db import utcnow
from npsloop.core.i18n import translate
from npsloop.surveys.models import Survey
from npsloop.targeting.models import DecisionLog

DEFAULT_DAYS = 7
ELIGIBLE = "eligible"  # the "rule" of a yes, in counts


@dataclass
class LogFilter:
    date_from: datetime | None = None
    date_to: datetime | None = None
    contact_id: str | None = None
    survey_id: str | None = None
    rule: str | None = None
    eligible: bool | None = None
    source: str | None = None
    trigger_id: str | None = None


@dataclass
class LogPage:
    rows: list[DecisionLog]
    total: int
    counts: dict[str, int]
    date_from: datetime
    date_to: datetime
    contacts: dict[str, Contact] = field(default_factory=dict)
    surveys: dict[str, str] = field(default_factory=dict)


def _where(org_id: str, spec: LogFilter, lo: datetime, hi: datetime, *,
           with_rule: bool = True) -> list[ColumnElement[bool]]:
    clauses = [DecisionLog.org_id == org_id, DecisionLog.created_at >= lo,
               DecisionLog.created_at < hi]
    if spec.contact_id:
        clauses.append(DecisionLog.contact_id == spec.contact_id)
    if spec.survey_id:
        clauses.append(DecisionLog.survey_id == spec.survey_id)
    if spec.source:
        clauses.append(DecisionLog.source == spec.source)
    if spec.trigger_id:
        clauses.append(DecisionLog.trigger_id == spec.trigger_id)
    if spec.eligible is not None:
        clauses.append(DecisionLog.eligible.is_(spec.eligible))
    if with_rule and spec.rule:
        clauses.append(DecisionLog.eligible.is_(True) if spec.rule == ELIGIBLE
                       else DecisionLog.rule == spec.rule)
    return clauses


def read_log(session: Session, *, org_id: str, spec: LogFilter, limit: int = 100,
             offset: int = 0, now: datetime | None = None) -> LogPage:
    hi = spec.date_to or (now or utcnow())
    lo = spec.date_from or hi - timedelta(days=DEFAULT_DAYS)
    where = _where(org_id, spec, lo, hi)
    rows = list(session.scalars(select(DecisionLog).where(*where)
                                .order_by(DecisionLog.created_at.desc(), DecisionLog.id.desc())
                                .limit(limit).offset(offset)))
    total = session.scalar(select(func.count()).select_from(DecisionLog).where(*where)) or 0
    counts: dict[str, int] = {}
    for rule, eligible, n in session.execute(
            select(DecisionLog.rule, DecisionLog.eligible, func.count())
            .where(*_where(org_id, spec, lo, hi, with_rule=False))
            .group_by(DecisionLog.rule, DecisionLog.eligible)):
        key = ELIGIBLE if eligible else (rule or "unknown")
        counts[key] = counts.get(key, 0) + int(n)
    page = LogPage(rows=rows, total=total,
                   counts=dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
                   date_from=lo, date_to=hi)
    contact_ids = sorted({r.contact_id for r in rows if r.contact_id})
    if contact_ids:
        page.contacts = {c.id: c for c in session.scalars(select(Contact).where(
            Contact.org_id == org_id, Contact.id.in_(contact_ids)))}
    survey_ids = sorted({r.survey_id for r in rows if r.survey_id})
    if survey_ids:
        page.surveys = dict(session.execute(select(Survey.id, Survey.name).where(
            Survey.org_id == org_id, Survey.id.in_(survey_ids))).all())
    return page


def explain(row: DecisionLog, language: str) -> list[dict[str, Any]]:
    """The row's reasons with their sentence in the reader's language."""
    return [{"rule": r["rule"], "params": r.get("params", {}),
             "message": translate(f"targeting.rule.{r['rule']}", language,
                                  **r.get("params", {}))}
            for r in row.reasons or []]


def prune(session: Session, *, org_id: str | None = None, older_than_days: int = 180,
          now: datetime | None = None) -> int:
    """Deletes log rows older than the retention period; returns how many."""
    cutoff = (now or utcnow()) - timedelta(days=older_than_days)
    query = delete(DecisionLog).where(DecisionLog.created_at < cutoff)
    if org_id is not None:
        query = query.where(DecisionLog.org_id == org_id)
    result = session.execute(query.execution_options(synchronize_session=False))
    return int(result.rowcount or 0)
