"""Database faults a client can wait out: the server is down or restarting, the disk is full,
the database is read-only. They answer 503 with Retry-After and say which, instead of a 500:
the request's transaction was rolled back, nothing half-written, and a retry with the same
idempotency key is safe.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

RETRY_AFTER_S = 5
# PostgreSQL SQLSTATE classes and codes (see the PostgreSQL manual, appendix A).
PG_READ_ONLY = {"25006"}
PG_DISK_FULL = {"53100"}
PG_UNAVAILABLE_PREFIXES = ("08", "57P")  # connection exceptions, operator intervention
PG_UNAVAILABLE = {"53300", "55P03"}  # too many connections, lock not available


def classify(exc: BaseException) -> str | None:
    """'unavailable' | 'read_only' | 'disk_full', or None for an error that is a bug."""
    if not isinstance(exc, DBAPIError):
        return None
    if exc.connection_invalidated:
        return "unavailable"
    original = exc.orig
    sqlstate = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    if sqlstate:
        if sqlstate in PG_READ_ONLY:
            return "read_only"
        if sqlstate in PG_DISK_FULL:
            return "disk_full"
        if sqlstate.startswith(PG_UNAVAILABLE_PREFIXES) or sqlstate in PG_UNAVAILABLE:
            return "unavailable"
        return None
    message = str(original).lower()
    if "readonly database" in message or "read-only" in message or "query_only" in message:
        return "read_only"
    if "database or disk is full" in message or "no space left" in message:
        return "disk_full"
    if "database is locked" in message or "unable to open database" in message:
        return "unavailable"
    # A psycopg connection failure without a SQLSTATE (server gone before it answered).
    if type(original).__name__ in {"OperationalError", "InterfaceError"} and (
        "connection" in message or "server" in message
    ):
        return "unavailable"
    return None


MESSAGES = {
    "unavailable": "the database is unavailable (down or restarting); retry shortly",
    "read_only": "the database is read-only; nothing was written, retry once it is writable",
    "disk_full": "the database disk is full; nothing was written, retry once space is freed",
}
