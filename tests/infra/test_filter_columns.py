"""Which typed filter column holds which of a face set's fields, and what a face stores there."""

from __future__ import annotations

import pytest

from infra.filter_columns import NUMBER_COLUMNS, STRING_COLUMNS, FilterColumns
from infra.search_filter import FilterError


def test_fields_map_to_columns_by_sorted_name_and_overflow_stays_json_only() -> None:
    schema = {f"tag{number:02d}": {"type": "string"} for number in reversed(range(10))}
    schema |= {"when": "long", "count": "integer", "vip": "boolean", "score": "double", "ratio": "float",
               "zone": "integer", "level": "integer"}
    columns = FilterColumns.for_schema(schema).by_field
    assert [columns[f"tag{number:02d}"] for number in range(8)] == list(STRING_COLUMNS)
    assert "tag08" not in columns and "tag09" not in columns
    assert [columns[name] for name in ("count", "level", "vip", "when")] == list(NUMBER_COLUMNS)
    assert not {"zone", "score", "ratio"} & set(columns)


def test_the_mapping_does_not_depend_on_declaration_order() -> None:
    forward = {"b": "string", "a": "string", "n": "long"}
    assert FilterColumns.for_schema(forward) == FilterColumns.for_schema(dict(reversed(forward.items())))


def test_values_fill_the_mapped_columns_and_leave_missing_fields_out() -> None:
    columns = FilterColumns.for_schema({"site": "string", "vip": "boolean", "since": "long", "score": "double"})
    assert columns.values({"site": "north", "vip": False, "since": 12, "score": 0.5}) == {
        "filter_s0": "north", "filter_n0": 12, "filter_n1": 0,
    }
    assert columns.values({}) == {}


def test_an_unknown_field_type_is_refused() -> None:
    with pytest.raises(FilterError):
        FilterColumns.for_schema({"x": "blob"})
