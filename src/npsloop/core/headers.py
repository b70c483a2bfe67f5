"""Security headers every response gets, and the one way to relax framing.

The app's middleware adds app.SECURITY_HEADERS to every response that did not set them.
Pages are never framed (`frame-ancestors 'none'` and X-Frame-Options DENY), except where a
route calls `allow_framing(...)`: the public survey page of an organisation that allows
embedding, and the widget's assets.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


class SecurityHeadersMiddleware:
    """Adds the defaults (app.SECURITY_HEADERS) to every HTTP response, as `apply` does.

    Pure ASGI: a BaseHTTPMiddleware (`@app.middleware("http")`) runs every request in a
    task of its own and re-streams its body, a measurable share of a small API request."""

    def __init__(self, app: ASGIApp, defaults: dict[str, str]) -> None:
        self.app = app
        self.defaults = [(name.lower().encode("latin-1"), value.encode("latin-1"))
                         for name, value in defaults.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Read at each request, like the decorator did: tests may swap the settings.
        https = scope["app"].state.settings.base_url.startswith("https")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = with_defaults(message.get("headers") or [],
                                                   self.defaults, https)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def with_defaults(raw: Iterable[tuple[bytes, bytes]], defaults: list[tuple[bytes, bytes]],
                  https: bool) -> list[tuple[bytes, bytes]]:
    """`apply` on raw ASGI headers: the defaults a response did not set, minus an emptied
    X-Frame-Options (allow_framing), plus HSTS on https."""
    headers = list(raw)
    present = {name.lower() for name, _ in headers}
    headers += [(name, value) for name, value in defaults if name not in present]
    frame = next((v for n, v in headers if n.lower() == b"x-frame-options"), None)
    if frame == b"":
        headers = [(n, v) for n, v in headers if n.lower() != b"x-frame-options"]
    if https and b"strict-transport-security" not in present:
        headers.append((b"strict-transport-security", HSTS.encode("latin-1")))
    return headers
