"""Serves the built web UI (msgtrace/api/static) with a single-page-app fallback.

Any GET path that is not an API route and not a file returns index.html, so deep links such as
`/traces/<id>?span=<id>` load directly. File lookups are confined to the static folder.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

STATIC_DIR = Path(__file__).parent / "static"
_RESERVED = ("api/", "v1/", "health", "metrics", "docs", "redoc", "openapi.json")

_NO_UI = """<!doctype html><html><head><title>msgtrace</title></head><body>
<h1>msgtrace</h1><p>The web UI is not built in this installation. The API is at
<a href="/docs">/docs</a>.</p></body></html>"""


def resolve_static(root: Path, path: str) -> Path | None:
    """The file under `root` named by `path`, or None; never a path outside `root`."""
    root = root.resolve()
    try:
        candidate = (root / path.lstrip("/")).resolve()
    except (OSError, ValueError):
        return None
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate


def mount_ui(app: FastAPI, root: Path = STATIC_DIR) -> None:
    """Add the UI routes last, after every API route."""

    @app.get("/{path:path}", include_in_schema=False)
    async def ui(path: str, request: Request) -> Response:
        if path.startswith(_RESERVED):
            raise HTTPException(404, f"no route {request.url.path}")
        if "\x00" in path:
            raise HTTPException(400, "invalid path")
        found = resolve_static(root, path) if path else None
        if found is not None:
            cache = "public, max-age=31536000, immutable" if "/assets/" in f"/{path}" else "no-cache"
            return FileResponse(found, headers={"Cache-Control": cache})
        index = root / "index.html"
        if index.is_file():
            return FileResponse(index, headers={"Cache-Control": "no-cache"})
        return HTMLResponse(_NO_UI)
