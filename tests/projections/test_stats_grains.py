"""Aggregate reads over the per-hour and per-day roll-ups answer exactly what the per-minute
tables alone answer: any range (mid-minute, mid-hour, mid-day, across midnights, open at either
end), filters, series buckets and facets. The reference is the same database with the coarser
tables dropped, which store_stats reads from the finest tables only."""

from __future__ import annotations

import math
import random
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msgtrace.projections import store_stats
from msgtrace.projections.projector import Projector
from tests.projections.segment_files import span, write_segment
from tests.projections.test_rollup_grains import COARSE_TABLES, assert_grains_consistent

NS = 1_000_000_000
DAY_S = 1_700_006_400  # a UTC midnight
FIRST_S = DAY_S - 86400 + 5 * 3600 + 17  # data from 05:00:17 the day before
WINDOW_S = 3 * 86400
MODELS = ["gpt-4o", "claude-3-5-haiku-latest", "my-private-model"]


def _spans(rng: random.Random) -> list[dict[str, Any]]:
    spans: list[dict[str, Any]] = []
    for t in range(300):
        trace = f"{t + 1:x}"
        start = (FIRST_S + rng.randrange(WINDOW_S)) * NS + rng.randrange(NS)
        duration = rng.randrange(1, 10**11)
        wf = {"workflow.name": rng.choice(["wf-a", "wf-b"])} if rng.random() < 0.8 else {}
        service = rng.choice(["svc-a", "svc-b"])
        status = 2 if rng.random() < 0.1 else 0
        spans.append(
            span(
                trace,
                "1",
                None,
                start=start,
                duration=duration,
                attrs=wf,
                status=status,
                service=service,
            )
        )
        for i in range(rng.randrange(3)):
            attrs = {
                "gen_ai.request.model": rng.choice(MODELS),
                "gen_ai.usage.input_tokens": rng.randrange(5000),
                "gen_ai.usage.output_tokens": rng.randrange(800),
            }
            spans.append(
                span(
                    trace,
                    str(i + 2),
                    "1",
                    start=start + rng.randrange(duration),
                    duration=rng.randrange(duration // 2 + 1),
                    attrs=attrs,
                    status=2 if rng.random() < 0.05 else 0,
                    service=service,
                )
            )
    return spans


@pytest.fixture(scope="module")
def stores(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[sqlite3.Connection, sqlite3.Connection]]:
    """(a projector's database, a copy of it without the coarser roll-ups)."""
    tmp = tmp_path_factory.mktemp("grains")
    data_dir, db = tmp / "data", tmp / "db.sqlite"
    spans = _spans(random.Random(7))
    with Projector(data_dir, db, batch_spans=97) as p:
        for i in range(0, len(spans), 50):
            write_segment(data_dir, [spans[i : i + 50]], i + 1)
            p.apply_pending()
    assert_grains_consistent(db)
    coarse = sqlite3.connect(db)
    minute = sqlite3.connect(tmp / "minute.sqlite")
    coarse.backup(minute)
    for table in COARSE_TABLES:
        minute.execute(f"DROP TABLE {table}")
    assert all(coarse.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in COARSE_TABLES)
    yield coarse, minute
    coarse.close()
    minute.close()


def assert_same(a: Any, b: Any, path: str = "$") -> None:
    """Equal, REALs up to floating-point rounding (sums added in another grouping)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), path
        for k in a:
            assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (path, a, b)
    else:
        assert a == b, (path, a, b)


# instants around the data: midnights, hour and minute boundaries, and points inside them
_INSTANTS = st.one_of(
    st.integers(FIRST_S - 3600, FIRST_S + WINDOW_S + 3600).map(lambda s: s * NS),
    st.integers(FIRST_S * NS, (FIRST_S + WINDOW_S) * NS),
    st.sampled_from([DAY_S, DAY_S + 86400, DAY_S + 3600, DAY_S - 60, DAY_S + 86400 - 1]).map(
        lambda s: s * NS
    ),
)
_RANGES = st.tuples(st.none() | _INSTANTS, st.none() | _INSTANTS)
_FILTERS = st.tuples(st.sampled_from([None, "wf-a", "", "nope"]), st.sampled_from([None, "svc-b"]))
_BUCKETS = st.sampled_from([None, 60, 300, 900, 3600, 7200, 10800, 86400, 172800, 604800])


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(_RANGES, _FILTERS)
def test_stats(
    stores: tuple[sqlite3.Connection, sqlite3.Connection],
    rng: tuple[int | None, int | None],
    filters: tuple[str | None, str | None],
) -> None:
    coarse, minute = stores
    kw: dict[str, Any] = {
        "start_time": rng[0],
        "end_time": rng[1],
        "workflow_name": filters[0],
        "service": filters[1],
    }
    assert_same(store_stats.stats(coarse, **kw), store_stats.stats(minute, **kw))


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(_RANGES, _FILTERS, _BUCKETS)
def test_timeseries(
    stores: tuple[sqlite3.Connection, sqlite3.Connection],
    rng: tuple[int | None, int | None],
    filters: tuple[str | None, str | None],
    bucket: int | None,
) -> None:
    coarse, minute = stores
    kw: dict[str, Any] = {
        "start_time": rng[0],
        "end_time": rng[1],
        "workflow_name": filters[0],
        "service": filters[1],
    }
    assert_same(
        store_stats.timeseries(coarse, bucket=bucket, **kw),
        store_stats.timeseries(minute, bucket=bucket, **kw),
    )


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(_RANGES, st.sampled_from(["model", "workflow", "service"]), _BUCKETS)
def test_usage(
    stores: tuple[sqlite3.Connection, sqlite3.Connection],
    rng: tuple[int | None, int | None],
    group_by: str,
    bucket: int | None,
) -> None:
    coarse, minute = stores
    kw: dict[str, Any] = {
        "start_time": rng[0],
        "end_time": rng[1],
        "group_by": group_by,
        "bucket": bucket,
    }
    assert_same(store_stats.usage(coarse, **kw), store_stats.usage(minute, **kw))


@pytest.mark.parametrize("kind", ["workflows", "services", "models"])
def test_facets(stores: tuple[sqlite3.Connection, sqlite3.Connection], kind: str) -> None:
    coarse, minute = stores
    assert store_stats.facet(coarse, kind) == store_stats.facet(minute, kind)


def test_a_range_inside_one_minute_and_an_empty_range(
    stores: tuple[sqlite3.Connection, sqlite3.Connection],
) -> None:
    coarse, minute = stores
    for lo, hi in [
        (DAY_S * NS + 5, DAY_S * NS + 7),
        (DAY_S * NS, DAY_S * NS - 1),
        (DAY_S * NS, (DAY_S + 86400) * NS),
    ]:
        assert_same(
            store_stats.stats(coarse, start_time=lo, end_time=hi),
            store_stats.stats(minute, start_time=lo, end_time=hi),
        )
        assert_same(
            store_stats.usage(coarse, start_time=lo, end_time=hi),
            store_stats.usage(minute, start_time=lo, end_time=hi),
        )


@pytest.mark.parametrize(
    ("lo", "hi", "expected"),
    [
        # whole days in the middle, whole hours, then minutes at each edge
        (
            100 * 86400 + 3600 + 120,
            103 * 86400 + 7200 + 300,
            [
                (60, 100 * 86400 + 3600 + 120, 100 * 86400 + 7200),
                (3600, 100 * 86400 + 7200, 101 * 86400),
                (86400, 101 * 86400, 103 * 86400),
                (3600, 103 * 86400, 103 * 86400 + 7200),
                (60, 103 * 86400 + 7200, 103 * 86400 + 7200 + 300),
            ],
        ),
        (None, 86400 + 60, [(86400, None, 86400), (60, 86400, 86400 + 60)]),
        (3600, None, [(3600, 3600, 86400), (86400, 86400, None)]),
        (None, None, [(86400, None, None)]),
        (120, 600, [(60, 120, 600)]),
        (600, 120, [(60, 600, 120)]),
    ],
)
def test_cover(
    lo: int | None, hi: int | None, expected: list[tuple[int, int | None, int | None]]
) -> None:
    assert store_stats._cover(lo, hi, [86400, 3600, 60]) == expected


def test_cover_every_tier() -> None:
    """From 00:01 to 2 days later 13:46: minutes, quarters, hours, six hours, then back down."""
    lo, hi = 86400 + 60, 3 * 86400 + 13 * 3600 + 46 * 60
    assert store_stats._cover(lo, hi, [86400, 21600, 3600, 900, 60]) == [
        (60, lo, 86400 + 900),
        (900, 86400 + 900, 86400 + 3600),
        (3600, 86400 + 3600, 86400 + 21600),
        (21600, 86400 + 21600, 2 * 86400),
        (86400, 2 * 86400, 3 * 86400),
        (21600, 3 * 86400, 3 * 86400 + 12 * 3600),
        (3600, 3 * 86400 + 12 * 3600, 3 * 86400 + 13 * 3600),
        (900, 3 * 86400 + 13 * 3600, 3 * 86400 + 13 * 3600 + 45 * 60),
        (60, 3 * 86400 + 13 * 3600 + 45 * 60, hi),
    ]


def test_the_reader_knows_every_coarser_table() -> None:
    """store_stats names the copies itself (no projector import): the names match the views'."""
    known = {
        name.format(base)
        for base in ("usage_rollup", "trace_rollup", "duration_histogram")
        for name in store_stats._COARSER.values()
    }
    assert set(COARSE_TABLES) <= known
    assert {t for t in known if t.startswith(("usage", "trace"))} <= set(COARSE_TABLES)
