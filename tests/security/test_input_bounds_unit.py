"""The shared bounding functions on their own (pure logic, no stack)."""

from __future__ import annotations

import pytest

from api.input_bounds import (
    InputRefused,
    ascii_integer,
    bounded_text,
    check_json_depth,
    json_nesting_depth,
    native_name,
    native_user_id,
)


def test_json_depth_counts_brackets_outside_strings_only() -> None:
    assert json_nesting_depth('{"a": [1, {"b": "[[[[{{{{"}]}') == 3
    assert json_nesting_depth(r'["\"[[[[", "\\"]') == 1
    assert json_nesting_depth("[" * 100_000) == 33  # stops counting past the limit
    check_json_depth("[" * 32 + "]" * 32)
    with pytest.raises(InputRefused):
        check_json_depth("[" * 33 + "]" * 33)


@pytest.mark.parametrize("text", ["\N{SUPERSCRIPT TWO}", "\N{ARABIC-INDIC DIGIT THREE}", "\uff11", "9" * 5000, "-1",
                                  "1e3", "", " ", "1_000", "0x10"])
def test_only_ascii_decimal_numbers_in_range_are_integers(text: str) -> None:
    with pytest.raises(InputRefused) as refused:
        ascii_integer(text, "Apid", 0, 2**31)
    assert text.strip() == "" or text not in refused.value.message  # the value is never echoed


def test_integers_within_range() -> None:
    assert ascii_integer(" 0042 ", "Fid", 1, 100) == 42
    with pytest.raises(InputRefused):
        ascii_integer("101", "Fid", 1, 100)


def test_text_is_bounded_in_utf8_bytes_and_refuses_nul() -> None:
    assert bounded_text("x" * 128, "user_id", 128)
    for bad in ("\N{GRINNING FACE}" * 33, "a\x00b", "\ud800"):
        with pytest.raises(InputRefused):
            bounded_text(bad, "user_id", 128)


def test_native_names() -> None:
    assert native_name("gate", "app_id", "d003-") == "d003-gate"
    assert native_user_id("u.rob@x:1", "user_id") == "u.rob@x:1"
    for bad in ("../../../etc", "x/y", "", "z" * 60):
        with pytest.raises(InputRefused):
            native_name(bad, "app_id", "d003-")
    for bad in ("<b>", "a b", "x" * 129, "é"):
        with pytest.raises(InputRefused):
            native_user_id(bad, "user_id")
