"""A parsed search filter rendered as a Milvus boolean expression.

A comparison goes over a typed scalar column where the field has one
(``infra.filter_columns``), else over the JSON field ``fields``. User text never reaches the expression as text: field names and values are re-rendered
from the typed AST, with string literals escaped, so no input can change the
expression's structure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from infra.search_filter.language import (
    MISSING_NUMBER,
    MISSING_STRING,
    And,
    Comparison,
    FilterError,
    Node,
    Not,
    Or,
    ScalarValue,
    parse_filter,
)


def compile_filter(
    text: str, schema: Mapping[str, Any], json_field: str = "fields", columns: Mapping[str, str] | None = None
) -> str:
    """The Milvus boolean expression equivalent to ``text``: over the typed column that
    ``columns`` names for a field (field → column), else over the JSON field ``json_field``."""
    return to_milvus(parse_filter(text, schema), json_field, columns)


def to_milvus(node: Node, json_field: str = "fields", columns: Mapping[str, str] | None = None) -> str:
    """Render ``node`` in Milvus's expression language.

    Negation is pushed down to the comparisons (De Morgan), because milvus-lite rejects
    ``not (...)`` and because Milvus's ``!=`` is also true where the field is missing:
    a term on a missing field is *unknown* (SQL NULL semantics), and neither it nor its
    negation matches. ``matches`` implements the same three-valued logic in Python.
    A typed column holds ``MISSING_STRING`` or ``MISSING_NUMBER`` where the field is
    missing, and a boolean as 1 or 0.
    """
    for name in (json_field, *(columns or {}).values()):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"invalid field name {name!r}")
    return _render(node, json_field, columns or {}, negated=False)


_INVERSE: dict[Comparison, Comparison | Literal["!="]] = {
    "==": "!=",
    ">": "<=",
    ">=": "<",
    "<": ">=",
    "<=": ">",
}


def _render(node: Node, json_field: str, columns: Mapping[str, str], negated: bool) -> str:
    if isinstance(node, Not):
        return _render(node.item, json_field, columns, not negated)
    if isinstance(node, (And, Or)):
        joiner = " and " if isinstance(node, And) != negated else " or "
        return _grouped([_render(item, json_field, columns, negated) for item in node.items], joiner)
    op = _INVERSE[node.op] if negated else node.op
    if node.field in columns:
        return _render_column(columns[node.field], op, node.value)
    target = f"{json_field}[{_string_literal(node.field)}]"
    if op != "!=":
        return f"{target} {op} {_literal(node.value)}"  # false where the field is missing
    return f"({target} != {_literal(node.value)} and {_present(target, node.value)})"


# Milvus parses ``a or b or c ...`` into a chain as deep as it is long, and fails on the
# plan ("unsupported expr proto node", or a missing field) somewhere past ~50 terms; in
# groups of at most this many, 64 terms nest 2 deep (and 4096 only 4).
_GROUP = 8


def _grouped(parts: list[str], joiner: str) -> str:
    """``parts`` joined by ``joiner`` as a tree of parenthesised groups of <= _GROUP."""
    while len(parts) > _GROUP:
        parts = [
            "(" + joiner.join(parts[start : start + _GROUP]) + ")" for start in range(0, len(parts), _GROUP)
        ]
    return "(" + joiner.join(parts) + ")"


def _render_column(column: str, op: str, value: ScalarValue) -> str:
    """One comparison on a typed column, false where the column holds its missing marker."""
    if isinstance(value, str):
        if op == "!=":
            return f"({column} != {_string_literal(value)} and {column} != {_string_literal(MISSING_STRING)})"
        return f"{column} {op} {_string_literal(value)}"
    literal = str(int(value)) if isinstance(value, bool) else _literal(value)
    if op in ("!=", "<", "<="):
        # The marker is the smallest int64, so these would include it. Milvus reads the
        # literal -2**63 as the negation of an overflowing 2**63, hence ">=" the next value.
        return f"({column} {op} {literal} and {column} >= {MISSING_NUMBER + 1})"
    return f"{column} {op} {literal}"


def _present(target: str, value: ScalarValue) -> str:
    """True exactly where ``target`` holds a value of ``value``'s type."""
    if isinstance(value, bool):
        return f"({target} == true or {target} == false)"
    if isinstance(value, str):
        return f'{target} >= ""'
    return f"({target} >= 0 or {target} < 0)"


def _literal(value: ScalarValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return _string_literal(value)


_ESCAPES = {"\\": "\\\\", '"': '\\"'}


def _string_literal(value: str) -> str:
    """A double-quoted Milvus string literal with backslash and quote escaped. Milvus
    reads a raw tab but neither a raw line break nor escapes such as ``\\n`` (measured on
    milvus-lite 2.5), so other control characters are refused instead of escaped."""
    if any((ord(ch) < 0x20 and ch != "\t") or ch == "\x7f" for ch in value):
        raise FilterError("filter values may not contain control characters other than tab")
    return '"' + "".join(_ESCAPES.get(ch, ch) for ch in value) + '"'
