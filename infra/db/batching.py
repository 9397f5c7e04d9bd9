"""Helpers shared by the repositories."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import CursorResult, Result
from sqlalchemy.exc import IntegrityError

from infra.db.errors import NotFound

if TYPE_CHECKING:
    from infra.db.database import Database

T = TypeVar("T")

# Keeps IN (...) lists well under every backend's bound-parameter limit.
IN_CLAUSE_BATCH = 500


def batched(values: Sequence[T], size: int = IN_CLAUSE_BATCH) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def unique_in_order(values: Iterable[T]) -> list[T]:
    return list(dict.fromkeys(values))


def new_id() -> str:
    return uuid.uuid4().hex


def affected_rows(result: Result[Any]) -> int:
    """Rows an INSERT/UPDATE/DELETE touched (its result is always a ``CursorResult``)."""
    return int(cast(CursorResult[Any], result).rowcount)


def add_project_row(database: Database, row: Any, project_id: str) -> None:
    """Insert ``row``, which belongs to ``project_id``: ``NotFound`` when that project does
    not exist (its foreign key refuses the row)."""
    try:
        with database.session() as session:
            session.add(row)
            session.flush()
    except IntegrityError as missing:
        raise NotFound(f"project {project_id} does not exist") from missing
