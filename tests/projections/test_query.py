"""The query language: every construct, precedence, errors with columns, injection attempts.

Queries run against a real views database (tests/api/views.py), so each case checks which traces
match, not just the SQL text.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from msgtrace.core.errors import QueryError
from msgtrace.projections.query import compile_query, validate_query
from msgtrace.projections.query_parse import And, Not, Or, Term, parse
from tests.api.views import BASE, NS, build_sample, tid

ABC = "abc" + "0" * 28 + "6"
ALL = {tid(1), tid(2), tid(3), tid(4), tid(5), ABC}
NOW = BASE + 400 * NS  # "now" for relative times: 100 s after the last sample trace


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    path: Path = tmp_path_factory.mktemp("q") / "msgtrace.db"
    build_sample(path).close()
    conn = sqlite3.connect(path)
    yield conn
    conn.close()


def run(db: sqlite3.Connection, q: str) -> set[str]:
    compiled = compile_query(q, now_ns=NOW)
    rows = db.execute(f"SELECT trace_id FROM traces WHERE {compiled.sql}", compiled.params)
    return {r[0] for r in rows}


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        # durations and units
        ("duration:>1s", {tid(1), tid(2), ABC}),
        ("duration:>=1500ms", {tid(1), tid(2), ABC}),
        ("duration:<0.05s", {tid(3), tid(5)}),
        ("duration:<=40", {tid(3), tid(5)}),
        ("duration:>1m", set()),
        ("duration:<1h", ALL),
        ("duration:>10000000ns", ALL - {tid(5)}),
        ("duration:>40000us", {tid(1), tid(2), tid(4), ABC}),
        ("duration:1500ms", {tid(1)}),
        ("duration:!=1500ms", ALL - {tid(1)}),
        # status and errors
        ("status:error", {tid(2)}),
        ("status:OK", {tid(1)}),
        ("status:unset", ALL - {tid(1), tid(2)}),
        ("error:true", {tid(2)}),
        ("error:false", ALL - {tid(2)}),
        ("error:!=true", ALL - {tid(2)}),
        # text fields, wildcards
        ("workflow:chat", {tid(1), tid(2)}),
        ("workflow:ch*", {tid(1), tid(2)}),
        ("workflow:r?g", {tid(3), tid(4)}),
        ("workflow:Chat", set()),
        ("workflow:!=chat", ALL - {tid(1), tid(2)}),
        ('workflow:"chat"', {tid(1), tid(2)}),
        ("service:worker", {tid(3), tid(4)}),
        ("session:s1", {tid(1)}),
        ("user:u2", {tid(2)}),
        ("root:rag_flow", {tid(3), tid(4)}),
        # any span
        ("name:llm.call", {tid(1), tid(2)}),
        ("name:step_1*", {ABC}),
        ("name:!=llm.call", ALL - {tid(1), tid(2)}),
        # models
        ("model:gpt-4o", {tid(1)}),
        ("model:gpt-4o*", {tid(1), tid(4)}),
        ("model:!=gpt-4o", ALL - {tid(1)}),
        # tokens and cost
        ("tokens:>1000", {tid(2), tid(4)}),
        ("tokens:>=1.8k", {tid(2), tid(4)}),
        ("input_tokens:>=5000", {tid(4)}),
        ("output_tokens:>0", {tid(1), tid(2)}),
        ("cost:>=0.01", {tid(1), tid(2)}),
        ("cost:>0.1", {tid(2)}),
        ("cost:<1", {tid(1), tid(2)}),  # unknown cost never matches a comparison
        # spans, trace id, time
        ("spans:>20", {ABC}),
        ("spans:1", {tid(3), tid(5)}),
        ("trace:abc", {ABC}),
        ("trace:ABC0*", {ABC}),
        (f"trace:{tid(2)}", {tid(2)}),
        ("time:>-4m", {tid(4), tid(5), ABC}),
        ("time:-4m", {tid(4), tid(5), ABC}),
        ("time:<-4m", {tid(1), tid(2), tid(3)}),
        ("time:>=2023-11-14T22:18:20Z", {ABC}),
        ("time:>=2023-11-14T22:18:20+00:00", {ABC}),
        ("time:<2023-11-14T22:14:00", {tid(1)}),
        ("time:>2023-11-15", set()),
        (f"time:>={BASE + 240 * NS}", {tid(5), ABC}),
        ("time:<now", ALL),
        # attributes
        ("attr.gen_ai.request.model:gpt-4o", {tid(1)}),
        ("attr.retry:2", {tid(1)}),
        ("attr.retry:>1", {tid(1)}),
        ("attr.retry:<2", set()),
        ('attr.retry:"2"', set()),
        ("attr.flag:true", {tid(1)}),
        ('attr."weird key":"x y"', {tid(3)}),
        ("attr.db.statement:SELECT*", {tid(3)}),
        ("attr.gen_ai.tool.name:*", {tid(1)}),
        ("attr.gen_ai.tool.name:!=search", ALL - {tid(1)}),
        # bare words: trace id prefix, workflow, service, root and span names
        ("abc", {ABC}),
        ("rag", {tid(3), tid(4)}),
        ("WORKER", {tid(3), tid(4)}),
        ("orphan", {tid(5)}),
        ("step_19", {ABC}),
        ('"tool.search"', {tid(1)}),
        ("-rag", ALL - {tid(3), tid(4)}),
        ("100%", set()),
        ("chat_fl_w", set()),  # _ and % are literal, not LIKE wildcards
        ("at_fl", {tid(1), tid(2)}),
    ],
)
def test_constructs(db: sqlite3.Connection, q: str, expected: set[str]) -> None:
    assert run(db, q) == expected


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("workflow:chat error:true", {tid(2)}),  # implicit AND
        ("workflow:chat AND error:true", {tid(2)}),
        ("workflow:rag OR error:true", {tid(2), tid(3), tid(4)}),
        ("NOT workflow:chat", ALL - {tid(1), tid(2)}),  # NULL workflow counts as "not chat"
        ("-workflow:chat", ALL - {tid(1), tid(2)}),
        ("- workflow:chat", ALL - {tid(1), tid(2)}),
        # AND binds tighter than OR
        ("workflow:rag OR workflow:chat AND error:true", {tid(2), tid(3), tid(4)}),
        ("(workflow:rag OR workflow:chat) AND error:true", {tid(2)}),
        # NOT binds tighter than AND
        ("NOT error:true AND workflow:chat", {tid(1)}),
        ("NOT (error:true OR workflow:rag)", ALL - {tid(2), tid(3), tid(4)}),
        ("NOT NOT workflow:chat", {tid(1), tid(2)}),
        ("((workflow:chat))", {tid(1), tid(2)}),
        ("duration:>1s AND (model:gpt-4* OR error:true) -workflow:batch", {tid(1), tid(2)}),
        ("and", set()),  # lower-case keywords are plain words
    ],
)
def test_boolean_structure_and_precedence(
    db: sqlite3.Connection, q: str, expected: set[str]
) -> None:
    assert run(db, q) == expected


def test_parse_tree_shape() -> None:
    tree = parse("a OR b c NOT d")
    assert isinstance(tree, Or)
    left, right = tree.children
    assert isinstance(left, Term) and left.value == "a"
    assert isinstance(right, And)
    assert isinstance(right.children[2], Not)


def test_term_columns() -> None:
    tree = parse('x  workflow:>="a b"')
    assert isinstance(tree, And)
    term = tree.children[1]
    assert isinstance(term, Term)
    assert (term.field, term.op, term.value, term.column, term.value_column) == (
        "workflow",
        ">=",
        "a b",
        4,
        15,
    )


@pytest.mark.parametrize(
    ("q", "column", "fragment"),
    [
        ("", 1, "empty"),
        ("   ", 1, "empty"),
        ("bogus:1", 1, "unknown field 'bogus'"),
        ("workflow:chat bogus:1", 15, "unknown field"),
        ("duration:>fast", 11, "duration"),
        ("duration:5parsecs", 10, "duration"),
        ("cost:cheap", 6, "number"),
        ("tokens:>1x", 9, "number"),
        ("spans:many", 7, "number"),
        ("status:weird", 8, "status is ok, error or unset"),
        ("error:maybe", 7, "true or false"),
        ("time:yesterday", 6, "ISO-8601"),
        ("time:>-5y", 7, "relative"),
        ("trace:xyz", 7, "hexadecimal"),
        ("workflow:>chat", 10, "text fields"),
        ("model:<gpt", 7, "text fields"),
        ("attr.retry:>many", 13, "needs a number"),
        ("workflow:", 10, "needs a value"),
        ("(workflow:chat", 1, "unclosed"),
        ("workflow:chat)", 14, "unmatched"),
        ("()", 1, "empty parentheses"),
        ("a AND", 6, "end of query"),
        ("OR a", 1, "OR needs"),
        ("a OR OR b", 6, "OR needs"),
        ("NOT", 4, "end of query"),
        ('workflow:"unterminated', 10, "unterminated"),
        ('"abc', 1, "unterminated"),
        ('attr."k":', 10, "needs a value"),
        ('attr."k"x', 10, "expected ':'"),
        ('attr.a"b:1', 7, "unterminated"),
        ('attr."a\\"b":1', 1, "cannot contain"),
    ],
)
def test_errors_point_at_the_token(q: str, column: int, fragment: str) -> None:
    with pytest.raises(QueryError) as info:
        compile_query(q)
    assert info.value.column == column
    assert fragment in info.value.message
    assert "query-language" in info.value.hint
    ok, message, col = validate_query(q)
    assert not ok and col == column and message == info.value.message


INJECTIONS = [
    "'; DROP TABLE traces; --",
    '" OR 1=1 --',
    "x' OR '1'='1",
    "1; DELETE FROM spans",
    "%' OR 1=1 --",
    "*') OR 1=1 --",
    "$.a') OR 1=1 --",
    "robert'); DROP TABLE traces;--",
]


@pytest.mark.parametrize("payload", INJECTIONS)
@pytest.mark.parametrize(
    "template",
    [
        'workflow:"{p}"',
        'name:"{p}"',
        'model:"{p}"',
        'session:"{p}"',
        '"{p}"',
        'attr."k":"{p}"',
        'attr.k:"{p}"',
    ],
)
def test_injection_attempts_are_just_values(
    db: sqlite3.Connection, template: str, payload: str
) -> None:
    q = template.format(p=payload.replace('"', '\\"'))
    compiled = compile_query(q)
    assert payload not in compiled.sql  # the value travels as a parameter
    assert run(db, q) == set()
    assert db.execute("SELECT count(*) FROM traces").fetchone()[0] == 6


def test_injection_through_field_names_stays_a_value() -> None:
    compiled = compile_query("traces.trace_id;DROP:1")  # not a field name: a search word
    assert "DROP" not in compiled.sql
    assert "%traces.trace\\_id;DROP:1%" in compiled.params
    compiled = compile_query('attr."x\') OR 1=1 --":1')
    assert "OR 1=1" not in compiled.sql


def test_relative_time_uses_now() -> None:
    compiled = compile_query("time:>-1h", now_ns=10 * 3600 * NS)
    assert compiled.params == [9 * 3600 * NS]
    iso = compile_query("time:>2024-01-01T00:00:00Z").params[0]
    assert iso == int(datetime(2024, 1, 1, tzinfo=UTC).timestamp()) * NS


def test_documented_examples_compile() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "query-language.md").read_text()
    block = doc.split("## Examples")[1].split("```")[1]
    queries = [line.split("  ")[0].strip() for line in block.strip().splitlines()]
    assert len(queries) >= 8
    for q in queries:
        compile_query(q)
    for q in (
        "duration:>1s AND (model:gpt-4* OR error:true) -workflow:test",
        'attr."http.route /x":1',
        "time:2025-01-31",
        "time:2025-01-31T12:00:00+02:00",
        "time:-2w",
        "attr.http.status_code:>=500",
    ):
        compile_query(q)
