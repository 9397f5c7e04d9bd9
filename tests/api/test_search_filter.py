"""The seed's filter language: parsing, schema checks, and equivalence of the compiled
Milvus expression (on the JSON field and on the typed filter columns) with the Python
evaluator, checked against a real milvus-lite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.filter_columns import EMPTY_COLUMNS, STRING_COLUMNS, FilterColumns
from infra.search_filter import (
    MISSING_NUMBER,
    And,
    Compare,
    FilterError,
    Node,
    Not,
    Or,
    compile_filter,
    matches,
    parse_filter,
    to_milvus,
)

SCHEMA = {
    "timestamp": {"type": "long"},
    "id": {"type": "string"},
    "number": {"type": "integer"},
    "score": {"type": "double"},
    "vip": {"type": "boolean"},
}
COLUMNS = FilterColumns.for_schema(SCHEMA)


def test_seed_example_compiles_to_a_json_field_comparison() -> None:
    assert compile_filter("timestamp:12", SCHEMA) == 'fields["timestamp"] == 12'


def test_operators_and_ranges_build_the_expected_tree() -> None:
    node = parse_filter("id:home && !(number:[1 TO 5} || timestamp:>=3) OR vip:true", SCHEMA)
    assert node == Or(
        (
            And(
                (
                    Compare("id", "==", "home"),
                    Not(
                        Or(
                            (
                                And((Compare("number", ">=", 1), Compare("number", "<", 5))),
                                Compare("timestamp", ">=", 3),
                            )
                        )
                    ),
                )
            ),
            Compare("vip", "==", True),
        )
    )
    assert parse_filter("score:[* TO 2.5]", SCHEMA) == Compare("score", "<=", 2.5)
    assert parse_filter('id:"two words" AND NOT id:x', SCHEMA) == And(
        (Compare("id", "==", "two words"), Not(Compare("id", "==", "x")))
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("nope:1", "unknown field"),
        ("id:[a TO b]", "numeric"),
        ("vip:>1", "numeric"),
        ("number:1.5", "integer"),
        ("number:99999999999", "out of range"),
        ("timestamp:abc", "integer"),
        ("score:nan", "number"),
        ("id:a id:b", "join terms"),
        ("id:", "expected a value"),
        ("(id:a", r"expected '\)'"),
        ("id:a &&", "field name"),
        ("id:&&", "expected a value"),
        ("timestamp:[* TO *]", "no bound"),
        ("id:" + "x" * 257, "1 to 256"),
        ("(" * 40 + "id:a" + ")" * 40, "nests deeper"),
        (" || ".join(["id:a"] * 70), "more than 64 terms"),
        ("id:a)", "unexpected"),
        ('id:"a\x01"', "control characters"),
        ("id:=a", "unexpected character"),
        (f"timestamp:{MISSING_NUMBER}", "out of range"),  # the typed columns' "missing" marker
    ],
)
def test_bad_filters_are_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(FilterError, match=message):
        compile_filter(text, SCHEMA)


def test_quotes_and_backslashes_cannot_escape_the_literal() -> None:
    expression = compile_filter(r'id:"a\" or fields[\"x\"] == 1 or \"\\"', SCHEMA)
    assert expression == r'fields["id"] == "a\" or fields[\"x\"] == 1 or \"\\"'


def test_fields_with_a_typed_column_compile_to_a_column_comparison() -> None:
    assert COLUMNS.by_field == {"id": "filter_s0", "timestamp": "filter_n1", "number": "filter_n0",
                                "vip": "filter_n2"}  # "score" is a double: JSON only
    compiled = compile_filter("id:home && !vip:true && timestamp:<5 && score:>1", SCHEMA, columns=COLUMNS.by_field)
    assert compiled == (
        f'(filter_s0 == "home" and (filter_n2 != 1 and filter_n2 >= {MISSING_NUMBER + 1})'
        f' and (filter_n1 < 5 and filter_n1 >= {MISSING_NUMBER + 1}) and fields["score"] > 1.0)'
    )
    assert compile_filter("!id:a", SCHEMA, columns=COLUMNS.by_field) == '(filter_s0 != "a" and filter_s0 != "")'
    with pytest.raises(ValueError, match="invalid field name"):
        compile_filter("id:a", SCHEMA, columns={"id": "x or 1"})


def test_negation_is_pushed_to_the_leaves_with_null_semantics() -> None:
    assert compile_filter("!id:a", SCHEMA) == '(fields["id"] != "a" and fields["id"] >= "")'
    assert compile_filter("!(timestamp:>3 && vip:true)", SCHEMA) == (
        '(fields["timestamp"] <= 3 or (fields["vip"] != true and '
        '(fields["vip"] == true or fields["vip"] == false)))'
    )
    node = parse_filter("!id:a", SCHEMA)
    assert matches(node, {"id": "b"}) and not matches(node, {}) and not matches(node, {"id": "a"})


# --------------------------------------------------------------- equivalence on milvus-lite

ROWS: list[dict[str, Any]] = [
    {"timestamp": 12, "id": "home", "number": 3, "score": 0.5, "vip": True},
    {"timestamp": 20, "id": 'qu"ote', "number": -4, "score": 2.5, "vip": False},
    {"timestamp": -7, "id": "back\\slash", "score": 9.75},
    {"id": "日本語", "number": 0, "vip": True},
    {"timestamp": 5, "id": "tab\there", "number": 5, "score": -1.0},
    {},
    {"timestamp": 12, "number": 2147483647, "score": 2.5, "vip": False},
    {"id": "home", "timestamp": 9_000_000_000},
    {"timestamp": MISSING_NUMBER + 1, "number": -(2**31), "vip": True},
]

_strings = st.sampled_from(["home", 'qu"ote', "back\\slash", "日本語", "tab\there", "none", "x y"])
_leaf = st.one_of(
    st.builds(Compare, st.just("id"), st.just("=="), _strings),
    st.builds(Compare, st.just("vip"), st.just("=="), st.booleans()),
    st.builds(
        Compare,
        st.sampled_from(["timestamp", "number"]),
        st.sampled_from(["==", ">", ">=", "<", "<="]),
        st.sampled_from([-7, 0, 3, 5, 12, 20, 2147483647, -(2**31)]),
    ),
    st.builds(Compare, st.just("timestamp"), st.sampled_from(["==", ">", "<", "<="]), st.just(MISSING_NUMBER + 1)),
    st.builds(
        Compare,
        st.just("score"),
        st.sampled_from([">", ">=", "<", "<=", "=="]),
        st.sampled_from([-1.0, 0.5, 2.5, 9.75]),
    ),
)
_nodes: st.SearchStrategy[Node] = st.recursive(
    _leaf,
    lambda children: st.one_of(
        st.builds(Not, children),
        st.builds(lambda items: And(tuple(items)), st.lists(children, min_size=2, max_size=3)),
        st.builds(lambda items: Or(tuple(items)), st.lists(children, min_size=2, max_size=3)),
    ),
    max_leaves=6,
)


def _as_text(node: Node) -> str:
    """Render an AST back into the seed syntax (the round trip is part of the property)."""
    if isinstance(node, Compare):
        if isinstance(node.value, bool):
            value = "true" if node.value else "false"
        elif isinstance(node.value, str):
            value = '"' + node.value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        else:
            value = repr(node.value)
        return f"{node.field}:{'' if node.op == '==' else node.op}{value}"
    if isinstance(node, Not):
        return f"!({_as_text(node.item)})"
    joiner = " && " if isinstance(node, And) else " || "
    return "(" + joiner.join(_as_text(item) for item in node.items) + ")"


@pytest.fixture(scope="module")
def milvus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from pymilvus import DataType, MilvusClient

    client = MilvusClient(str(Path(tmp_path_factory.mktemp("milvus")) / "filters.db"))
    schema = client.create_schema(auto_id=False)
    schema.add_field("pk", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=2)
    schema.add_field("fields", DataType.JSON)
    for column in EMPTY_COLUMNS:
        kind = DataType.VARCHAR if column in STRING_COLUMNS else DataType.INT64
        schema.add_field(column, kind, **({"max_length": 1024} if kind == DataType.VARCHAR else {}))
    client.create_collection("filters", schema=schema)
    index = client.prepare_index_params()
    index.add_index("vector", index_type="FLAT", metric_type="L2")
    client.create_index("filters", index)
    client.load_collection("filters")
    client.insert("filters", [
        {"pk": i, "vector": [0.0, 0.0], "fields": row, **EMPTY_COLUMNS, **COLUMNS.values(row)}
        for i, row in enumerate(ROWS)
    ])
    yield client
    client.close()


@pytest.mark.parametrize("columns", [None, COLUMNS.by_field], ids=["json-field", "typed-columns"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(node=_nodes)
def test_milvus_and_python_agree_on_every_filter(milvus: Any, columns: Any, node: Node) -> None:
    reparsed = parse_filter(_as_text(node), SCHEMA)
    expression = to_milvus(reparsed, columns=columns)
    found = {row["pk"] for row in milvus.query("filters", filter=expression, output_fields=["pk"])}
    expected = {i for i, row in enumerate(ROWS) if matches(reparsed, row)}
    assert found == expected, expression
