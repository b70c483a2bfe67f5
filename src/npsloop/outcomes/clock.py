"""Periodic refits: the worker refits an organisation's models once they are a day old, so
scores follow new answers and behaviour without anyone pressing a button."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from npsloop.accounts.models import Organization
from npsloop.core.db import utcnow
from npsloop.outcomes.model import fit_org
from npsloop.outcomes.models import PropensityModel
from npsloop.outcomes.service import OutcomeError

REFIT_AFTER = timedelta(hours=24)
CHECK_EVERY_SECONDS = 600


def stale_orgs(session: Session) -> list[str]:
    """Organisations whose newest model is older than REFIT_AFTER (never-fitted ones are
    left to a person: the first fit needs settings that match their events)."""
    newest = (select(PropensityModel.org_id, func.max(PropensityModel.fitted_at).label("at"))
              .group_by(PropensityModel.org_id).subquery())
    return list(session.scalars(select(newest.c.org_id).where(
        newest.c.at < utcnow() - REFIT_AFTER).order_by(newest.c.org_id)))


def refit(factory: sessionmaker[Session], *, org_id: str | None = None,
          window_days: int | None = None, only_stale: bool = True) -> list[dict[str, Any]]:
    """Fits each chosen organisation in its own transaction; one failing (too little data)
    does not stop the others."""
    with factory() as session:
        if org_id:
            org_ids = [org_id] if session.get(Organization, org_id) else []
            if not org_ids:
                return [{"org_id": org_id, "error": "no such organisation"}]
        elif only_stale:
            org_ids = stale_orgs(session)
        else:
            org_ids = list(session.scalars(select(Organization.id).order_by(Organization.id)))
    results = []
    for current in org_ids:
        with factory() as session:
            try:
                fitted = fit_org(session, current, actor="npsloop worker" if only_stale
                                 else "npsloop cli", window_days=window_days)
            except OutcomeError as exc:
                session.rollback()
                results.append({"org_id": current, "error": f"{exc.field}: {exc.message}"})
                continue
            session.commit()
        results.append({"org_id": current, "contacts_scored": fitted["contacts_scored"],
                        "holdout_auc": {k: v["holdout_auc"]
                                        for k, v in fitted["models"].items()}})
    return results
