"""Fixtures for the read API: a views database built directly and an in-process ASGI client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from msgtrace.api.routes import ReadContext, read_router
from tests.api.views import ViewsBuilder, build_sample


class Tombstones:
    """Stands in for the journal: records delete calls and hands out offsets."""

    def __init__(self) -> None:
        self.calls: list[str | None] = []

    async def __call__(self, trace_id: str | None) -> int:
        self.calls.append(trace_id)
        return 1000 + len(self.calls)


@pytest.fixture
def sample_db(tmp_path: Path) -> Iterator[Path]:
    db = tmp_path / "msgtrace.db"
    builder = build_sample(db)
    builder.close()
    yield db


@pytest.fixture
def views(tmp_path: Path) -> Iterator[ViewsBuilder]:
    builder = ViewsBuilder(tmp_path / "msgtrace.db")
    yield builder
    builder.close()


def make_app(db_path: Path, tombstones: Tombstones | None = None, **ctx: object) -> FastAPI:
    app = FastAPI()
    context = ReadContext(db_path=db_path, delete_trace=tombstones or Tombstones(), **ctx)  # type: ignore[arg-type]
    app.include_router(read_router(context))
    return app


@pytest.fixture
def tombstones() -> Tombstones:
    return Tombstones()


@pytest.fixture
async def client(sample_db: Path, tombstones: Tombstones) -> AsyncIterator[httpx.AsyncClient]:
    app = make_app(sample_db, tombstones)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c
