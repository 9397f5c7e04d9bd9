"""The search filter language of the FRS seed: parsed into a typed AST and evaluated.

Syntax (Lucene-like, as the FRS documents show it):

    id:home                       exact match (string values may be quoted: id:"a b")
    timestamp:[10 TO 20]          inclusive range; {10 TO 20} exclusive; mixed [10 TO 20}
    timestamp:[10 TO *]           open-ended range
    timestamp:>=10                comparison (>, >=, <, <=)
    a:1 && b:2   a:1 || b:2   !a:1   AND / OR / NOT   ( ... )

A filter is checked against the face set's typed field schema (unknown field, wrong
value type, range on a string or boolean → ``FilterError``). ``infra.search_filter.milvus``
compiles the AST for the vector index; the same AST evaluates a row's fields in Python
(``matches``), for SQL-side selections such as "delete the faces whose fields match".
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

FieldType = Literal["string", "integer", "long", "float", "double", "boolean"]
FIELD_TYPES: tuple[FieldType, ...] = ("string", "integer", "long", "float", "double", "boolean")
NUMERIC_TYPES = frozenset({"integer", "long", "float", "double"})

MAX_FILTER_LENGTH = 2048
MAX_TERMS = 64
MAX_DEPTH = 16
MAX_STRING_VALUE = 256
INT32 = (-(2**31), 2**31 - 1)
# The smallest int64 marks "no value" in a typed number column (Milvus 2.3 has no NULL),
# so a long may not take it.
MISSING_NUMBER = -(2**63)
MISSING_STRING = ""  # never a stored value: strings are 1+ characters long
INT64 = (MISSING_NUMBER + 1, 2**63 - 1)

Comparison = Literal["==", ">", ">=", "<", "<="]
ScalarValue = str | int | float | bool


class FilterError(ValueError):
    """The filter is malformed or does not fit the face set's field schema."""


# ---------------------------------------------------------------------------- AST


@dataclass(frozen=True)
class Compare:
    field: str
    op: Comparison
    value: ScalarValue


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


Node = Compare | And | Or | Not


# ---------------------------------------------------------------------------- values


def field_type_of(schema: Mapping[str, Any], name: str) -> FieldType:
    """The declared type of ``name``; schema entries are ``{"type": t}`` (seed) or ``t``."""
    if name not in schema:
        raise FilterError(f"unknown field {name!r}: it is not in the face set's external_fields")
    entry = schema[name]
    declared = entry.get("type") if isinstance(entry, Mapping) else entry
    if declared not in FIELD_TYPES:
        raise FilterError(f"field {name!r} has an unsupported type {declared!r}")
    return declared  # type: ignore[no-any-return]


def coerce_value(field_type: FieldType, raw: object, field: str = "value") -> ScalarValue:
    """Check ``raw`` (JSON value or filter text) against a field type; returns the typed value.

    Shared by the filter and by the API's validation of stored external_fields, so a value
    that can be stored can always be filtered on, and vice versa.
    """
    if field_type == "string":
        if not isinstance(raw, str):
            raise FilterError(f"{field} must be a string")
        if not 1 <= len(raw) <= MAX_STRING_VALUE:
            raise FilterError(f"{field} must be 1 to {MAX_STRING_VALUE} characters long")
        return raw
    if field_type == "boolean":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        raise FilterError(f"{field} must be true or false")
    if field_type in ("integer", "long"):
        number = _as_int(raw, field)
        low, high = INT32 if field_type == "integer" else INT64
        if not low <= number <= high:
            raise FilterError(f"{field} is out of range for type {field_type}")
        return number
    value = _as_float(raw, field)
    return value


def _as_int(raw: object, field: str) -> int:
    if isinstance(raw, bool):
        raise FilterError(f"{field} must be an integer")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str) and re.fullmatch(r"[+-]?\d{1,20}", raw):
        return int(raw)
    raise FilterError(f"{field} must be an integer")


def _as_float(raw: object, field: str) -> float:
    if isinstance(raw, bool):
        raise FilterError(f"{field} must be a number")
    if (
        isinstance(raw, (int, float))
        or isinstance(raw, str)
        and re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", raw)
    ):
        value = float(raw)
    else:
        raise FilterError(f"{field} must be a number")
    if not math.isfinite(value):
        raise FilterError(f"{field} must be a finite number")
    return value


# ---------------------------------------------------------------------------- lexer

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<and>&&)
  | (?P<or>\|\|)
  | (?P<cmp>>=|<=|>|<)
  | (?P<punct>[()\[\]{}:!])
  | (?P<quoted>"(?:[^"\\]|\\.)*")
  | (?P<word>[^\s()\[\]{}:!"&|<>=]+)
    """,
    re.VERBOSE,
)
_KEYWORDS = {"AND": "and", "OR": "or", "NOT": "not", "TO": "to"}


@dataclass(frozen=True)
class _Token:
    kind: str  # and | or | not | to | cmp | punct | word | quoted | end
    text: str
    position: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise FilterError(f"unexpected character {text[position]!r} at position {position}")
        kind = match.lastgroup or ""
        lexeme = match.group()
        if kind == "quoted":
            tokens.append(_Token("quoted", re.sub(r"\\(.)", r"\1", lexeme[1:-1]), position))
        elif kind == "word" and lexeme in _KEYWORDS:
            tokens.append(_Token(_KEYWORDS[lexeme], lexeme, position))
        elif kind == "punct" and lexeme == "!":
            tokens.append(_Token("not", lexeme, position))
        elif kind != "ws":
            tokens.append(_Token(kind, lexeme, position))
        position = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


# ---------------------------------------------------------------------------- parser


class _Parser:
    """Recursive descent: or_expr := and_expr (|| and_expr)*; and_expr := unary (&& unary)*;
    unary := ! unary | ( or_expr ) | term."""

    def __init__(self, text: str, schema: Mapping[str, Any]) -> None:
        self.tokens = _tokenize(text)
        self.index = 0
        self.schema = schema
        self.terms = 0

    def parse(self) -> Node:
        node = self._or(depth=0)
        if self._peek().kind != "end":
            token = self._peek()
            raise FilterError(
                f"unexpected {token.text!r} at position {token.position}; join terms with && or ||"
            )
        return node

    def _peek(self) -> _Token:
        return self.tokens[self.index]

    def _take(self, kind: str, text: str | None = None) -> _Token:
        token = self._peek()
        if token.kind != kind or (text is not None and token.text != text):
            expected = text or kind
            shown = token.text or "end of filter"
            raise FilterError(f"expected {expected!r} at position {token.position}, found {shown!r}")
        self.index += 1
        return token

    def _or(self, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise FilterError(f"the filter nests deeper than {MAX_DEPTH} levels")
        items = [self._and(depth)]
        while self._peek().kind == "or":
            self.index += 1
            items.append(self._and(depth))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def _and(self, depth: int) -> Node:
        items = [self._unary(depth)]
        while self._peek().kind == "and":
            self.index += 1
            items.append(self._unary(depth))
        return items[0] if len(items) == 1 else And(tuple(items))

    def _unary(self, depth: int) -> Node:
        token = self._peek()
        if token.kind == "not":
            self.index += 1
            return Not(self._unary(depth + 1))
        if token.kind == "punct" and token.text == "(":
            self.index += 1
            node = self._or(depth + 1)
            self._take("punct", ")")
            return node
        return self._term()

    def _term(self) -> Node:
        name_token = self._peek()
        if name_token.kind not in ("word", "quoted"):
            shown = name_token.text or "end of filter"
            raise FilterError(f"expected a field name at position {name_token.position}, found {shown!r}")
        self.index += 1
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise FilterError(f"the filter has more than {MAX_TERMS} terms")
        field = name_token.text
        field_type = field_type_of(self.schema, field)
        self._take("punct", ":")
        token = self._peek()
        if token.kind == "punct" and token.text in "[{":
            return self._range(field, field_type)
        op: Comparison = "=="
        if token.kind == "cmp":
            self.index += 1
            op = token.text  # type: ignore[assignment]
            self._require_ordered(field, field_type)
        return Compare(field, op, self._value(field, field_type))

    def _range(self, field: str, field_type: FieldType) -> Node:
        self._require_ordered(field, field_type)
        low_inclusive = self._take("punct").text == "["
        low = self._bound(field, field_type)
        self._take("to")
        high = self._bound(field, field_type)
        closing = self._take("punct")
        if closing.text not in ("]", "}"):
            raise FilterError(f"expected ']' or '}}' at position {closing.position}")
        parts: list[Node] = []
        if low is not None:
            parts.append(Compare(field, ">=" if low_inclusive else ">", low))
        if high is not None:
            parts.append(Compare(field, "<=" if closing.text == "]" else "<", high))
        if not parts:
            raise FilterError(f"the range on {field!r} has no bound")
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def _bound(self, field: str, field_type: FieldType) -> ScalarValue | None:
        token = self._peek()
        if token.kind == "word" and token.text == "*":
            self.index += 1
            return None
        return self._value(field, field_type)

    def _value(self, field: str, field_type: FieldType) -> ScalarValue:
        token = self._peek()
        keyword_as_value = token.kind in ("to", "and", "or", "not") and token.text.isalpha()
        if token.kind not in ("word", "quoted") and not keyword_as_value:
            shown = token.text or "end of filter"
            raise FilterError(f"expected a value for {field!r} at position {token.position}, found {shown!r}")
        self.index += 1
        return coerce_value(field_type, token.text, f"the value of {field!r}")

    @staticmethod
    def _require_ordered(field: str, field_type: FieldType) -> None:
        if field_type not in NUMERIC_TYPES:
            raise FilterError(f"ranges and comparisons need a numeric field; {field!r} is {field_type}")


# ---------------------------------------------------------------------------- public API


# Fields every face has besides its face set's own: ``user_id:alice`` selects a person.
# Where a face set defines a field of the same name, its own field wins.
BUILT_IN_FIELDS: dict[str, dict[str, str]] = {"user_id": {"type": "string"}}
# The vector collection's column of each built-in field (``infra.vector_index.rows``).
BUILT_IN_COLUMNS: dict[str, str] = {"user_id": "user_id"}


def with_built_in_fields(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {**BUILT_IN_FIELDS, **schema}


def built_in_columns(schema: Mapping[str, Any]) -> dict[str, str]:
    """The built-in fields' columns, for those the face set does not define itself."""
    return {name: column for name, column in BUILT_IN_COLUMNS.items() if name not in schema}


def built_in_values(schema: Mapping[str, Any], user_id: str | None) -> dict[str, Any]:
    """A face's built-in field values, to evaluate with ``matches`` beside its own fields."""
    return {} if user_id is None or "user_id" in schema else {"user_id": user_id}


def parse_filter(text: str, schema: Mapping[str, Any]) -> Node:
    """Parse and type-check ``text`` against ``schema`` (field name → ``{"type": t}``)."""
    if not text or not text.strip():
        raise FilterError("the filter is empty")
    if len(text) > MAX_FILTER_LENGTH:
        raise FilterError(f"the filter is longer than {MAX_FILTER_LENGTH} characters")
    return _Parser(text, schema).parse()


def matches(node: Node, fields: Mapping[str, Any]) -> bool:
    """Evaluate ``node`` on one face's external_fields with the same semantics as the
    compiled expression: a term on a missing field is unknown, and unknown never matches."""
    return _evaluate(node, fields) is True


def _evaluate(node: Node, fields: Mapping[str, Any]) -> bool | None:
    if isinstance(node, Compare):
        if node.field not in fields or not _same_kind(fields[node.field], node.value):
            return None
        return _compare(fields[node.field], node.op, node.value)
    if isinstance(node, Not):
        inner = _evaluate(node.item, fields)
        return None if inner is None else not inner
    results = [_evaluate(item, fields) for item in node.items]
    decisive = isinstance(node, Or)  # True decides an Or, False decides an And
    if decisive in results:
        return decisive
    return None if None in results else not decisive


def _same_kind(actual: Any, expected: ScalarValue) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(expected, bool) and isinstance(actual, bool)
    if isinstance(expected, str):
        return isinstance(actual, str)
    return isinstance(actual, (int, float))


def _compare(actual: Any, op: Comparison, expected: ScalarValue) -> bool:
    if op == "==":
        return bool(actual == expected)
    if op == ">":
        return bool(actual > expected)
    if op == ">=":
        return bool(actual >= expected)
    if op == "<":
        return bool(actual < expected)
    return bool(actual <= expected)
