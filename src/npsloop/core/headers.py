"""Security headers every response gets, and the one way to relax framing.

The app's middleware adds app.SECURITY_HEADERS to every response that did not set them.
Pages are never framed (`frame-ancestors 'none'` and X-Frame-Options DENY), except where a
route calls `allow_framing(...)`: the public survey page of an organisation that allows
embedding, and the widget's assets.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.responses import Response

# The policy of app.SECURITY_HEADERS without its frame-ancestors part.
CSP_BASE = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'self'; form-action 'self'"
)

HSTS = "max-age=31536000; includeSubDomains"


def allow_framing(response: Response, ancestors: Iterable[str]) -> Response:
    """Lets the listed origins (e.g. "https://shop.example.com", or "*") frame this response.
    X-Frame-Options cannot list origins, so it is left out; CSP frame-ancestors rules."""
    allowed = " ".join(a for a in ancestors if a and not any(c in a for c in ";,\r\n"))
    response.headers["Content-Security-Policy"] = (
        f"{CSP_BASE}; frame-ancestors {allowed or chr(39) + 'none' + chr(39)}")
    response.headers["X-Frame-Options"] = "" if allowed else "DENY"
    return response


def apply(response: Response, defaults: dict[str, str], https: bool) -> None:
    for name, value in defaults.items():
        response.headers.setdefault(name, value)
    if response.headers.get("X-Frame-Options") == "":
        del response.headers["X-Frame-Options"]  # allow_framing: CSP frame-ancestors rules
    if https:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
