"""CORS: same-origin unless MSGTRACE_CORS_ORIGINS lists origins."""

from __future__ import annotations

from typing import Any

import httpx

PREFLIGHT = {"access-control-request-method": "GET"}


def test_same_origin_by_default(msgtrace_server: Any) -> None:
    r = httpx.get(f"{msgtrace_server.url}/api/v1/stats", headers={"origin": "http://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    r = httpx.options(f"{msgtrace_server.url}/api/v1/stats",
                      headers={"origin": "http://evil.example", **PREFLIGHT})
    assert "access-control-allow-origin" not in r.headers


def test_listed_origins_only(server_factory: Any) -> None:
    server = server_factory(env={"MSGTRACE_CORS_ORIGINS": "http://ui.example, http://other.example"})
    for origin in ("http://ui.example", "http://other.example"):
        r = httpx.options(f"{server.url}/api/v1/traces", headers={"origin": origin, **PREFLIGHT})
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == origin
        r = httpx.get(f"{server.url}/api/v1/stats", headers={"origin": origin})
        assert r.headers["access-control-allow-origin"] == origin
    r = httpx.get(f"{server.url}/api/v1/stats", headers={"origin": "http://evil.example"})
    assert "access-control-allow-origin" not in r.headers
