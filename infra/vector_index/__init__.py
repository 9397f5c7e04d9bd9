"""The vector index adapter: face vectors in Milvus (a server, or milvus-lite embedded).

``VectorIndex`` is imported lazily so that code which only needs the plain records (or the
embedded launcher) does not load pymilvus and gRPC.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from infra.vector_index.embedded import start_embedded_milvus
from infra.vector_index.records import (
    Consistency,
    Hit,
    IndexConfig,
    VectorRecord,
    collection_name,
    scope_key,
    search_ef_for,
    vector_id,
)

if TYPE_CHECKING:
    from infra.vector_index.errors import InvalidVectorFilter
    from infra.vector_index.index import VectorIndex
    from infra.vector_index.rows import CollectionInfo

__all__ = [
    "CollectionInfo",
    "Consistency",
    "Hit",
    "IndexConfig",
    "InvalidVectorFilter",
    "VectorIndex",
    "VectorRecord",
    "collection_name",
    "scope_key",
    "search_ef_for",
    "start_embedded_milvus",
    "vector_id",
]

_LAZY = {
    "VectorIndex": "infra.vector_index.index",
    "CollectionInfo": "infra.vector_index.rows",
    "InvalidVectorFilter": "infra.vector_index.errors",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
