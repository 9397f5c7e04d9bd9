"""Search filters as the face service uses them outside a search: checked before a search
is queued, and evaluated over a face set's rows to select the faces a request acts on."""

from __future__ import annotations

from typing import Any

from core.errors import DomainError, ErrorCode
from infra.search_filter import (
    FilterError,
    Node,
    built_in_values,
    compile_filter,
    matches,
    parse_filter,
    with_built_in_fields,
)

SCAN_PAGE = 1000


def check_search_filter(text: str, schema: dict[str, Any]) -> None:
    """Refuse a filter the search job would refuse (``INVALID_FILTER``)."""
    try:
        compile_filter(text, with_built_in_fields(schema))
    except FilterError as bad:
        raise DomainError(ErrorCode.INVALID_FILTER, str(bad)) from bad


def matching_face_ids(faces: Any, project_id: str, face_set: Any, filter_text: str) -> list[str]:
    """The ids of ``face_set``'s faces whose fields match ``filter_text``."""
    schema = face_set.external_fields or {}
    node = _parsed(filter_text, with_built_in_fields(schema))
    # Evaluated row by row with the same semantics as the compiled Milvus filter.
    selected: list[str] = []
    offset = 0
    while True:
        page = list(faces.list(project_id, face_set.id, offset=offset, limit=SCAN_PAGE))
        selected.extend(
            row.face_id
            for row in page
            if matches(node, {**(row.external_fields or {}), **built_in_values(schema, row.user_id)})
        )
        if len(page) < SCAN_PAGE:
            return selected
        offset += SCAN_PAGE


def _parsed(text: str, schema: dict[str, Any]) -> Node:
    try:
        return parse_filter(text, schema)
    except FilterError as bad:
        raise DomainError(ErrorCode.INVALID_FILTER, str(bad)) from bad
