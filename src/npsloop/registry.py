"""Finds each domain's modules by name, so adding a domain never edits a central list.

A domain package (a folder under npsloop/ with __init__.py) is wired in by having:
  models.py   - tables (imported for Alembic and create_all)
  api.py, pages.py, public.py - each with a `router` (mounted by create_app)
  handlers.py - outbox subscribers (imported by the app and by `npsloop worker`)
  jobs.py     - `JOBS = [core.jobs.PeriodicJob(...)]`, run by `npsloop worker` and serve
  cli.py      - a Typer app named `app`, mounted as `npsloop <domain> ...`
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from types import ModuleType

PACKAGE_DIR = Path(__file__).resolve().parent
SKIP = {"core", "migrations", "web", "demo"}
ROUTER_MODULES = ("api", "pages", "public")


def domains() -> list[str]:
    return sorted(
        info.name
        for info in pkgutil.iter_modules([str(PACKAGE_DIR)])
        if info.ispkg and info.name not in SKIP
    )


def domain_modules(name: str) -> list[ModuleType]:
    found = []
    for domain in domains():
        if (PACKAGE_DIR / domain / f"{name}.py").exists():
            found.append(importlib.import_module(f"npsloop.{domain}.{name}"))
    return found


def import_models() -> None:
    domain_modules("models")


def import_handlers() -> None:
    domain_modules("handlers")


def routers() -> list[object]:
    return [m.router for kind in ROUTER_MODULES for m in domain_modules(kind)]


def cli_apps() -> list[tuple[str, object]]:
    """(command name, Typer app) of each domain that ships a cli.py; the name is the
    module's `COMMAND` if set (e.g. "text" for textmining), else the domain name."""
    return [
        (getattr(m, "COMMAND", m.__name__.split(".")[1]), m.app) for m in domain_modules("cli")
    ]
