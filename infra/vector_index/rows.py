"""How one face becomes a Milvus row, and how Milvus's answers become ``Hit``s."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from pymilvus import DataType, MilvusClient

from infra.filter_columns import EMPTY_COLUMNS, NUMBER_COLUMNS, STRING_COLUMNS
from infra.search_filter import MAX_STRING_VALUE
from infra.vector_index.records import Hit, VectorRecord, milvus_string_literal, scope_key, vector_id

MAX_ID_BYTES = 256
DESCRIPTION_PREFIX = "facefleet vectors of embedding model "


@dataclass(frozen=True)
class CollectionInfo:
    name: str
    model_id: str
    dimension: int
    partition_key: bool
    # Collections created before the typed filter columns existed have none: their rows
    # are written without them and filters run on the JSON field alone.
    filter_columns: bool


def schema_for(model_id: str, dimension: int, partition_key: bool) -> Any:
    """The collection layout; ``infra.filter_columns`` says what the ``filter_*`` columns hold."""
    schema = MilvusClient.create_schema(
        auto_id=False,
        enable_dynamic_field=False,
        description=DESCRIPTION_PREFIX + json.dumps(model_id),
    )
    schema.add_field("pk", DataType.INT64, is_primary=True)
    schema.add_field("face_id", DataType.VARCHAR, max_length=MAX_ID_BYTES)
    schema.add_field("project_id", DataType.VARCHAR, max_length=MAX_ID_BYTES)
    schema.add_field("face_set_id", DataType.VARCHAR, max_length=MAX_ID_BYTES)
    schema.add_field("scope", DataType.INT64, is_partition_key=partition_key)
    schema.add_field("user_id", DataType.VARCHAR, max_length=MAX_ID_BYTES)
    schema.add_field("written_at", DataType.INT64)
    schema.add_field("fields", DataType.JSON)
    for column in STRING_COLUMNS:
        # UTF-8 bytes: a string value is at most MAX_STRING_VALUE characters of up to 4 bytes
        schema.add_field(column, DataType.VARCHAR, max_length=4 * MAX_STRING_VALUE)
    for column in NUMBER_COLUMNS:
        schema.add_field(column, DataType.INT64)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
    return schema


def row_for(record: VectorRecord, vector: list[float], written_at: int) -> dict[str, Any]:
    """The row of one face, typed filter columns included (``without_filter_columns``
    strips them for a collection of the older layout)."""
    for label, value in (
        ("face_id", record.face_id),
        ("project_id", record.project_id),
        ("face_set_id", record.face_set_id),
        ("user_id", record.user_id or ""),
    ):
        milvus_string_literal(value)  # refuses control characters, so every id stays filterable
        if len(value.encode("utf-8")) > MAX_ID_BYTES:
            raise ValueError(f"{label} is longer than {MAX_ID_BYTES} bytes: {value[:40]!r}...")
    if not record.face_id or not record.project_id or not record.face_set_id:
        raise ValueError(f"face, project and face set ids must not be empty: {record!r}")
    return {
        "pk": vector_id(record.face_id),
        "face_id": record.face_id,
        "project_id": record.project_id,
        "face_set_id": record.face_set_id,
        "scope": scope_key(record.project_id, record.face_set_id),
        "user_id": record.user_id or "",
        "written_at": written_at,
        "fields": dict(record.fields),
        **EMPTY_COLUMNS,
        **_checked_columns(record),
        "vector": vector,
    }


def without_filter_columns(row: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in row.items() if name not in EMPTY_COLUMNS}


def _checked_columns(record: VectorRecord) -> Mapping[str, str | int]:
    unknown = set(record.columns) - set(EMPTY_COLUMNS)
    if unknown:
        raise ValueError(f"not filter columns: {sorted(unknown)}")
    for column, value in record.columns.items():
        if (column in STRING_COLUMNS) != isinstance(value, str) or isinstance(value, bool):
            raise ValueError(f"{column} cannot hold {value!r}")
    return record.columns


def as_matrix(vectors: Sequence[Sequence[float] | npt.NDArray[np.floating[Any]]]) -> npt.NDArray[np.float32]:
    try:
        matrix = np.asarray([np.asarray(vector, dtype=np.float32).ravel() for vector in vectors])
    except ValueError as uneven:
        raise ValueError("vectors of different lengths") from uneven
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise ValueError(f"expected a list of non-empty vectors, got shape {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        raise ValueError("vectors must not contain NaN or infinity")
    return matrix


def require_dimension(collection: CollectionInfo, dimension: int) -> None:
    if dimension != collection.dimension:
        raise ValueError(
            f"{collection.model_id} vectors have {collection.dimension} dimensions, not {dimension}"
        )


def hits_from(found: Iterable[dict[str, Any]], max_distance: float | None) -> list[Hit]:
    hits = [
        Hit(face_id=str(hit["entity"]["face_id"]), distance=math.sqrt(max(0.0, float(hit["distance"]))))
        for hit in found
    ]
    hits.sort(key=lambda hit: hit.distance)
    if max_distance is not None:
        hits = [hit for hit in hits if hit.distance <= max_distance]
    return hits
