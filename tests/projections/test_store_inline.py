"""ReadStore.list_json: which list pages run on the caller's thread, and that both ways answer
the same bytes."""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from pathlib import Path

import pytest

from msgtrace.core.models import TraceQueryParams
from msgtrace.projections import store as store_module
from msgtrace.projections.store import INLINE_MAX_LIMIT, INLINE_MAX_OFFSET, ReadStore
from tests.api.views import ViewsBuilder, build_sample


@pytest.fixture
def store(tmp_path: Path) -> ReadStore:
    build_sample(tmp_path / "msgtrace.db").close()
    return ReadStore(tmp_path / "msgtrace.db")


def test_only_an_unfiltered_small_first_page_of_a_counted_store_runs_inline(
    store: ReadStore,
) -> None:
    default = TraceQueryParams()
    assert not store.runs_inline(default)  # never counted
    store.list_traces_json(TraceQueryParams(workflow_name="chat"))
    assert not store.runs_inline(default)  # a filtered count says nothing about the store
    store.list_traces_json(default)
    assert store.runs_inline(default)
    assert store.runs_inline(TraceQueryParams(sort="-cost", limit=INLINE_MAX_LIMIT))
    assert store.runs_inline(TraceQueryParams(offset=INLINE_MAX_OFFSET, order="asc"))
    first = store.list_traces(TraceQueryParams(limit=1))
    for params in (
        TraceQueryParams(limit=INLINE_MAX_LIMIT + 1),
        TraceQueryParams(offset=INLINE_MAX_OFFSET + 1),
        TraceQueryParams(cursor=first.next_cursor),
        TraceQueryParams(workflow_name="chat"),
        TraceQueryParams(has_errors=False),
        TraceQueryParams(q="status:error"),
        TraceQueryParams(search=" "),
    ):
        assert not store.runs_inline(params), params


def test_large_empty_or_replaced_stores_go_to_a_worker_thread(
    store: ReadStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    default = TraceQueryParams()
    store.list_traces_json(default)
    monkeypatch.setattr(store_module, "INLINE_MAX_TRACES", 5)  # the sample holds 6
    assert not store.runs_inline(default)
    monkeypatch.undo()

    other = tmp_path / "other.db"
    shutil.copy(store.db_path, other)
    os.replace(other, store.db_path)  # a rebuild replaces the file
    store.list_traces_json(TraceQueryParams(limit=1, offset=1, service="svc"))
    assert not store.runs_inline(default)

    empty = ReadStore(tmp_path / "empty.db")
    ViewsBuilder(tmp_path / "empty.db").close()
    empty.list_traces_json(default)
    assert not empty.runs_inline(default)


def test_list_json_answers_as_list_traces_json_on_either_thread(store: ReadStore) -> None:
    threads: list[str] = []
    original = store.list_traces_json

    def recording(params: TraceQueryParams) -> bytes:
        threads.append(threading.current_thread().name)
        return original(params)

    store.list_traces_json = recording  # type: ignore[method-assign]

    async def answers() -> list[bytes]:
        return [await store.list_json(TraceQueryParams(limit=4)) for _ in range(2)]

    first, second = asyncio.run(answers())
    assert first == second == original(TraceQueryParams(limit=4))
    main = threading.current_thread().name
    assert threads[0] != main  # not counted yet: a worker thread
    assert threads[1] == main  # counted: inline
