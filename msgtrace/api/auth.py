"""Optional API key: when set, OTLP, the REST API and /metrics require it; /health stays open.

Accepted as `Authorization: Bearer <key>`, `x-api-key: <key>` (what OpenTelemetry exporters send
through their headers setting), or the `msgtrace_key` cookie (what the web UI sets once the user has
entered the key, so EventSource streams carry it too). The UI's static files are not protected:
they hold no data and must load to ask for the key.
"""

from __future__ import annotations

import hmac
from http.cookies import SimpleCookie
from urllib.parse import unquote

from starlette.types import ASGIApp, Receive, Scope, Send

PROTECTED_PREFIXES = ("/api/", "/v1/", "/metrics")
COOKIE_NAME = "msgtrace_key"


def presented_key(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The key a request carries, from any of the accepted places."""
    for name, value in headers:
        if name == b"x-api-key":
            return value.decode("latin-1")
        if name == b"authorization":
            text = value.decode("latin-1")
            if text[:7].lower() == "bearer ":
                return text[7:].strip()
        if name == b"cookie":
            cookie: SimpleCookie = SimpleCookie()
            try:
                cookie.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header is just no key
                continue
            if COOKIE_NAME in cookie:
                return unquote(cookie[COOKIE_NAME].value)
    return None


class ApiKeyMiddleware:
    """Pure ASGI middleware (no per-request task overhead on the ingest path)."""

    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self.app = app
        self._key = api_key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") == "OPTIONS":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if not path.startswith(PROTECTED_PREFIXES):
            await self.app(scope, receive, send)
            return
        key = presented_key(scope.get("headers", []))
        if key is not None and hmac.compare_digest(key.encode(), self._key):
            await self.app(scope, receive, send)
            return
        body = (
            b'{"detail":"missing or wrong API key","hint":"send Authorization: Bearer <key> '
            b'or x-api-key: <key>"}'
        )
        await send({
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"www-authenticate", b'Bearer realm="msgtrace"'),
                (b"content-length", str(len(body)).encode()),
            ],
        })
        await send({"type": "http.response.body", "body": body})
