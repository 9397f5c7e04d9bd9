"""docs/ERRORS.md's table is what the surfaces' own tables answer, for every ErrorCode."""

from __future__ import annotations

from api import error_table
from api.errors import CODE_OF_ERROR
from api.rekognition.protocol import TYPE_OF_ERROR
from core.errors import ErrorCode


def test_errors_doc_matches_every_surface_table() -> None:
    documented = error_table.documented(error_table.DOC.read_text())
    assert documented == error_table.markdown(), "run `python -m api.error_table` and review the diff"


def test_every_error_code_has_a_row_and_a_native_and_rekognition_answer() -> None:
    assert set(CODE_OF_ERROR) == set(ErrorCode)
    assert set(TYPE_OF_ERROR) == set(ErrorCode)
    assert [row[0] for row in error_table.rows()] == [f"`{code.value}`" for code in ErrorCode]


def test_architecture_links_the_error_table() -> None:
    architecture = error_table.DOC.with_name("ARCHITECTURE.md").read_text()
    assert "ERRORS.md" in architecture
