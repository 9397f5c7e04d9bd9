"""Typed filter columns: a face set's declared fields as plain scalar columns of its vectors.

Milvus evaluates a filter on a JSON field by parsing every row's JSON: at one million faces
that alone took ~90 ms per search (bench.search_scale), against a 20 ms target. A scalar
column compares in a vectorised loop instead. So each vector row also carries
``STRING_COLUMNS`` and ``NUMBER_COLUMNS``, and every face set maps its declared fields onto
them: string fields, sorted by name, to the string columns; integer, long and boolean
fields, sorted by name, to the number columns (a boolean as 1 or 0). Fields beyond the
columns, and float/double fields, are filtered through the JSON copy, which every row keeps.

The collection is shared by every face set of a model, so one column holds different
fields for different face sets; every search is confined to one face set (its ``scope``),
so a column is only ever compared with the field it holds there. A face set's declared
fields never change after it is created, so its mapping never changes either.
A field missing on a face holds ``MISSING_STRING`` / ``MISSING_NUMBER`` (Milvus 2.3 has no
NULL), and ``infra.search_filter`` keeps such a face out of every comparison on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from infra.search_filter import MISSING_NUMBER, MISSING_STRING, FieldType, field_type_of

STRING_COLUMNS = tuple(f"filter_s{number}" for number in range(8))
NUMBER_COLUMNS = tuple(f"filter_n{number}" for number in range(4))
EMPTY_COLUMNS: Mapping[str, str | int] = {
    **dict.fromkeys(STRING_COLUMNS, MISSING_STRING),
    **dict.fromkeys(NUMBER_COLUMNS, MISSING_NUMBER),
}
_NUMBER_TYPES: frozenset[FieldType] = frozenset({"integer", "long", "boolean"})


@dataclass(frozen=True)
class FilterColumns:
    """Which typed column holds each of one face set's fields (the rest stay JSON-only)."""

    by_field: Mapping[str, str]

    @classmethod
    def for_schema(cls, schema: Mapping[str, Any]) -> FilterColumns:
        """The mapping for a face set's ``external_fields`` schema (name → type)."""
        types = {name: field_type_of(schema, name) for name in schema}
        strings = sorted(name for name, kind in types.items() if kind == "string")
        numbers = sorted(name for name, kind in types.items() if kind in _NUMBER_TYPES)
        return cls({
            **dict(zip(strings, STRING_COLUMNS, strict=False)),
            **dict(zip(numbers, NUMBER_COLUMNS, strict=False)),
        })

    def values(self, fields: Mapping[str, Any]) -> dict[str, str | int]:
        """The column values of a face with these (already validated) external_fields."""
        values: dict[str, str | int] = {}
        for name, column in self.by_field.items():
            value = fields.get(name)
            if column in STRING_COLUMNS:
                if isinstance(value, str):
                    values[column] = value
            elif isinstance(value, bool):
                values[column] = int(value)
            elif isinstance(value, int) and value != MISSING_NUMBER:
                values[column] = value
        return values
