"""Query language, part 1: tokens and the syntax tree (recursive descent).

Grammar (keywords are upper case; juxtaposition is AND; NOT binds tighter than AND, AND than OR):

    query    := or_expr EOF
    or_expr  := and_expr ("OR" and_expr)*
    and_expr := not_expr (["AND"] not_expr)*
    not_expr := ("NOT" | "-") not_expr | primary
    primary  := "(" or_expr ")" | term
    term     := FIELD ":" [OP] VALUE | VALUE          (OP is one of > >= < <= = !=)
    VALUE    := bare word | "double-quoted string" (backslash escapes \\" and \\\\)

Every node remembers the 1-based column where it starts, so compile errors can point at it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from msgtrace.core.errors import QueryError

Op = Literal[">", ">=", "<", "<=", "=", "!="]
_OPS: tuple[Op, ...] = (">=", "<=", "!=", ">", "<", "=")
_STOP = set(" \t\r\n()")
KEYWORDS = {"AND", "OR", "NOT"}


@dataclass(frozen=True)
class Token:
    kind: Literal["lparen", "rparen", "word", "term", "eof"]
    column: int
    text: str = ""  # word: the value; term: the field name
    value: str = ""  # term only
    op: Op = "="  # term only
    value_column: int = 0
    quoted: bool = False


@dataclass(frozen=True)
class Term:
    """`field:op value`, or a bare word/string when `field` is None."""

    field: str | None
    op: Op
    value: str
    quoted: bool
    column: int
    value_column: int


@dataclass(frozen=True)
class Not:
    child: Node
    column: int


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]
    column: int


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]
    column: int


Node = Term | Not | And | Or


def _read_quoted(text: str, i: int) -> tuple[str, int]:
    """Read a string starting at the quote `text[i]`; returns (value, index after the quote)."""
    out: list[str] = []
    j = i + 1
    while j < len(text):
        ch = text[j]
        if ch == "\\" and j + 1 < len(text):
            out.append(text[j + 1])
            j += 2
            continue
        if ch == '"':
            return "".join(out), j + 1
        out.append(ch)
        j += 1
    raise QueryError("unterminated quoted string", column=i + 1)


def _read_bare(text: str, i: int) -> tuple[str, int]:
    j = i
    while j < len(text) and text[j] not in _STOP and text[j] != '"':
        j += 1
    return text[i:j], j


def tokenize(text: str) -> list[Token]:
    """Split `text` into tokens; raises QueryError (with column) on unterminated strings."""
    tokens: list[Token] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch == "(":
            tokens.append(Token("lparen", i + 1))
            i += 1
            continue
        if ch == ")":
            tokens.append(Token("rparen", i + 1))
            i += 1
            continue
        if ch == '"':
            value, i2 = _read_quoted(text, i)
            tokens.append(Token("word", i + 1, text=value, quoted=True))
            i = i2
            continue
        start = i
        word, i = _read_bare(text, i)
        if word in ("attr.", "-attr.") and i < n and text[i] == '"':
            # attr."key with spaces or: colons":value
            key, i = _read_quoted(text, i)
            rest_word, i = _read_bare(text, i)
            if not rest_word.startswith(":"):
                raise QueryError("expected ':' after the quoted attribute key", column=i + 1)
            word = word + key + rest_word
            colon = len(word) - len(rest_word)
            colon_at = i - len(rest_word)
        else:
            colon = _field_colon(word)
            colon_at = start + colon
        if colon < 0:
            tokens.append(Token("word", start + 1, text=word))
            continue
        field_name = word[:colon]
        rest = word[colon + 1 :]
        rest_col = colon_at + 2
        op: Op = "="
        for candidate in _OPS:
            if rest.startswith(candidate):
                op = candidate
                rest = rest[len(candidate) :]
                rest_col += len(candidate)
                break
        quoted = False
        if rest == "" and i < n and text[i] == '"':
            rest_col = i + 1
            rest, i = _read_quoted(text, i)
            quoted = True
        tokens.append(
            Token(
                "term",
                start + 1,
                text=field_name,
                value=rest,
                op=op,
                value_column=rest_col,
                quoted=quoted,
            )
        )
    tokens.append(Token("eof", n + 1))
    return tokens


def _field_colon(word: str) -> int:
    """Index of the field separator, or -1 when `word` is a bare value (e.g. a URL-ish word)."""
    colon = word.find(":")
    if colon <= 0:
        return -1
    name = word[:colon].removeprefix("-")
    if not name:
        return -1
    if name.startswith("attr.") and len(name) > 5:
        return colon
    return colon if name.replace("_", "").isalnum() else -1


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0

    def peek(self) -> Token:
        return self.tokens[self.pos]

    def next(self) -> Token:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def is_keyword(self, tok: Token, word: str) -> bool:
        return tok.kind == "word" and not tok.quoted and tok.text == word

    def parse(self) -> Node:
        if self.peek().kind == "eof":
            raise QueryError("empty query", column=1)
        node = self.or_expr()
        tok = self.peek()
        if tok.kind == "rparen":
            raise QueryError("unmatched ')'", column=tok.column)
        if tok.kind != "eof":  # pragma: no cover - or_expr consumes everything else
            raise QueryError("unexpected input", column=tok.column)
        return node

    def or_expr(self) -> Node:
        first = self.and_expr()
        children = [first]
        while self.is_keyword(self.peek(), "OR"):
            self.next()
            children.append(self.and_expr())
        return first if len(children) == 1 else Or(tuple(children), first_column(first))

    def and_expr(self) -> Node:
        first = self.not_expr()
        children = [first]
        while True:
            tok = self.peek()
            if tok.kind in ("eof", "rparen") or self.is_keyword(tok, "OR"):
                break
            if self.is_keyword(tok, "AND"):
                self.next()
            children.append(self.not_expr())
        return first if len(children) == 1 else And(tuple(children), first_column(first))

    def not_expr(self) -> Node:
        tok = self.peek()
        if self.is_keyword(tok, "NOT"):
            self.next()
            return Not(self.not_expr(), tok.column)
        if tok.kind == "word" and not tok.quoted and tok.text.startswith("-") and len(tok.text) > 1:
            # `-word` negates a bare word
            self.next()
            inner = Term(None, "=", tok.text[1:], False, tok.column + 1, tok.column + 1)
            return Not(inner, tok.column)
        if tok.kind == "word" and not tok.quoted and tok.text == "-":
            self.next()
            return Not(self.not_expr(), tok.column)
        if tok.kind == "term" and tok.text.startswith("-") and len(tok.text) > 1:
            self.next()
            inner = Term(
                tok.text[1:], tok.op, tok.value, tok.quoted, tok.column + 1, tok.value_column
            )
            return Not(inner, tok.column)
        return self.primary()

    def primary(self) -> Node:
        tok = self.next()
        if tok.kind == "lparen":
            if self.peek().kind == "rparen":
                raise QueryError("empty parentheses", column=tok.column)
            node = self.or_expr()
            close = self.next()
            if close.kind != "rparen":
                raise QueryError("unclosed '('", column=tok.column)
            return node
        if tok.kind == "term":
            return Term(tok.text, tok.op, tok.value, tok.quoted, tok.column, tok.value_column)
        if tok.kind == "word":
            if not tok.quoted and tok.text in KEYWORDS:
                raise QueryError(f"{tok.text} needs an expression on both sides", column=tok.column)
            return Term(None, "=", tok.text, tok.quoted, tok.column, tok.column)
        if tok.kind == "rparen":
            raise QueryError("unmatched ')'", column=tok.column)
        raise QueryError("expression expected at end of query", column=tok.column)


def first_column(node: Node) -> int:
    return node.column


def parse(text: str) -> Node:
    """Parse `text` into a syntax tree; raises QueryError with a 1-based column."""
    return _Parser(text).parse()
