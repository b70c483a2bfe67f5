"""create_app(): mounts each domain's API router and pages, static files and error handling."""

from __future__ import annotations

import gc
import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException

from npsloop import __version__
from npsloop.accounts.deps import LoginRequired
from npsloop.core import dbfaults, headers, jobs, openapi, outbox
from npsloop.core.admission import AdmissionMiddleware, AdmissionSlots, pool_capacity
from npsloop.core.config import Settings, get_settings
from npsloop.core.db import make_engine, make_session_factory
from npsloop.core.errors import InputError
from npsloop.core.input_guard import RejectNulMiddleware
from npsloop.registry import import_handlers, routers
from npsloop.responses.fast_ingest import FastIngestMiddleware

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).resolve().parent / "web" / "static"

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    # No inline scripts anywhere: every page script is a file under /static.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; "
        "form-action 'self'"
    ),
}


def freeze_startup_objects() -> None:
    """Moves what start-up built (modules, routes, schemas, models: ~350,000 objects) out of
    the garbage collector's sight, once per process. They live as long as the process, yet
    every full collection walked them all: a ~300 ms pause of every request in flight,
    several times a minute under load (bench/bench_ingest.py's p99). Tests build many apps
    in one process, so they skip it."""
    if not gc.get_freeze_count():
        gc.collect()
        gc.freeze()


def _routers(app: FastAPI) -> None:
    import_handlers()
    for router in routers():
        app.include_router(router)


def create_app(
    settings: Settings | None = None,
    session_factory: sessionmaker[Session] | None = None,
    start_worker: bool | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    if session_factory is None:
        session_factory = make_session_factory(make_engine(settings.database_url))
    run_worker = settings.inprocess_worker if start_worker is None else start_worker

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        worker = outbox.WorkerThread(session_factory) if run_worker else None
        if worker:
            worker.start()
        # Domains' periodic jobs (jobs.py); domains with a router lifespan run their own.
        job_threads = jobs.start_jobs(session_factory) if run_worker else []
        if settings.env != "test":
            freeze_startup_objects()
        yield
        for thread in job_threads:
            thread.stop()
        if worker:
            worker.stop()

    app = FastAPI(
        title="npsloop",
        version=__version__,
        description="NPS and customer-experience platform: listen, analyze, act, track, share.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    bind = session_factory.kw.get("bind")
    capacity = pool_capacity(bind) if bind is not None else None
    slots = AdmissionSlots(capacity) if capacity is not None else None
    if slots is not None:
        app.add_middleware(AdmissionMiddleware, slots=slots)
    app.state.session_factory = session_factory
    # Domain routers with background jobs (notify delivery, ticket SLA) read this too.
    app.state.run_worker = run_worker

    app.add_middleware(RejectNulMiddleware)

    if settings.ingest_group_commit:
        # Outside admission control: a fast-path request holds no connection, its writer
        # takes one admission slot per batch (see responses/fast_ingest.py).
        app.add_middleware(FastIngestMiddleware, session_factory=session_factory,
                           slots=slots)
    app.add_middleware(headers.SecurityHeadersMiddleware, defaults=SECURITY_HEADERS)

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, _exc: LoginRequired):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={target}", status_code=303)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError):
        # Same shape as FastAPI's default, minus the echoed input that may hold personal data
        # or bytes JSON cannot encode.
        detail = [
            {"loc": list(err.get("loc", [])), "msg": err.get("msg", ""), "type": err.get("type")}
            for err in exc.errors()
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(InputError)
    async def input_error(_request: Request, exc: InputError):
        # A domain's bad-input error that its route did not translate: still a 4xx naming
        # the field, never a 500.
        return JSONResponse({"detail": exc.detail()}, status_code=exc.status_code)

    @app.exception_handler(DBAPIError)
    async def database_fault(request: Request, exc: DBAPIError):
        # Down, restarting, full or read-only: the transaction was rolled back, so the
        # client may retry (same idempotency key); anything else is a bug and stays a 500.
        reason = dbfaults.classify(exc)
        if reason is None:
            raise exc
        log.warning("database fault on %s %s: %s", request.method, request.url.path, reason)
        return JSONResponse({"detail": dbfaults.MESSAGES[reason], "reason": reason},
                            status_code=503,
                            headers={"Retry-After": str(dbfaults.RETRY_AFTER_S)})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException):
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )

    @app.get("/healthz", tags=["system"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    _routers(app)
    openapi.install(app)
    return app
