"""Plain data the vector index takes and returns, and the naming/id rules it relies on."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

INT63_MASK = (1 << 63) - 1
_NAME_SAFE = re.compile(r"[^A-Za-z0-9_]")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class Consistency(StrEnum):
    """Milvus consistency levels. ``STRONG`` sees every acknowledged write (read-after-write),
    at the server's next time tick (~200 ms on a server); ``BOUNDED`` may miss the latest
    writes and is far cheaper for hot search; ``CUSTOMIZED`` sees every write up to a given
    index timestamp: given a write's own, it sees that write without waiting for a tick once
    the write is visible."""

    STRONG = "Strong"
    SESSION = "Session"
    BOUNDED = "Bounded"
    EVENTUALLY = "Eventually"
    CUSTOMIZED = "Customized"


def vector_id(face_id: str) -> int:
    """The int64 primary key of a face: the first 63 bits of sha256(face id).

    Stable across processes and versions (Python's ``hash()`` is salted per process, so
    re-inserting with it would duplicate instead of overwrite). Non-negative so the value
    prints and sorts the same everywhere.
    """
    digest = hashlib.sha256(face_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") & INT63_MASK


def collection_name(prefix: str, model_id: str) -> str:
    """``facefleet_dlib_resnet_v1`` for ``dlib-resnet-v1``.

    Milvus names allow letters, digits and underscores. '-' maps to '_' (our ids use it);
    any other character is replaced too, and then a hash of the id is appended so two
    distinct model ids can never share a collection.
    """
    if not model_id:
        raise ValueError("empty embedding model id")
    safe = _NAME_SAFE.sub("_", model_id)
    if not re.fullmatch(r"[A-Za-z0-9_-]+", model_id):
        safe += "_" + hashlib.sha256(model_id.encode("utf-8")).hexdigest()[:8]
    name = f"{prefix}_{safe}"
    if len(name) > 255 or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"cannot derive a collection name from {prefix!r} and {model_id!r}")
    return name


def scope_key(project_id: str, face_set_id: str) -> int:
    """The int64 that stands for one (project, face set) pair inside a collection.

    Searches filter on this integer instead of two strings: an integer comparison needs no
    quoting, cannot be confused by any character in an id, and is the server's partition
    key (one face set's vectors sit together). The JSON encoding keeps ("a", "b|c") and
    ("a|b", "c") apart. A collision needs two of 2**63 values to meet, and destructive
    operations re-check the strings anyway (``delete_by_face_set``).
    """
    encoded = json.dumps([project_id, face_set_id], ensure_ascii=False).encode("utf-8")
    return int.from_bytes(hashlib.sha256(encoded).digest()[:8], "big") & INT63_MASK


def milvus_string_literal(value: str) -> str:
    """``value`` as a double-quoted Milvus string literal, backslash and quote escaped.

    Milvus reads a raw tab but neither a raw line break nor escapes such as ``\\n``, so
    other control characters are refused (ids with them are refused at write time too).
    """
    if _CONTROL.search(value):
        raise ValueError(f"{value!r}: ids may not contain control characters")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class VectorRecord:
    face_id: str
    vector: Sequence[float] | npt.NDArray[np.floating[Any]]
    project_id: str
    face_set_id: str
    user_id: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    # Typed filter columns (``infra.filter_columns.FilterColumns.values``); unset ones hold
    # the "missing" marker.
    columns: Mapping[str, str | int] = field(default_factory=dict)


@dataclass(frozen=True)
class Hit:
    face_id: str
    distance: float  # Euclidean (not squared) distance


@dataclass(frozen=True)
class IndexConfig:
    """How the server indexes vectors; milvus-lite ignores it (it only has FLAT)."""

    index_type: str = "HNSW"
    hnsw_m: int = 32
    hnsw_ef_construction: int = 256
    # None derives ef from each search (``search_ef_for``); a number is the operator's override.
    search_ef: int | None = None
    # The face set is the tenant split: a partition key on the server keeps each face
    # set's vectors together, so a search scans only its own segments.
    partition_key: bool = True


# HNSW's ef per search, measured on face-like vectors (docs/BENCHMARKS.md, "Search at one
# million faces" and "Search ef"): at 1M faces ef 384-512 meets recall@10 >= 0.99 at p99
# <= 20 ms, while 1536 takes p99 to ~235 ms. Below LARGE_FACE_SET even ef 1536 costs little
# (p99 12 ms at 49.5k random vectors, which need it for recall), so small sets keep it.
EF_PER_RESULT = 16
EF_SMALL_SET = 1536
EF_LARGE_SET = 512
LARGE_FACE_SET = 100_000
MAX_EF = 32_768  # Milvus's own limit


def search_ef_for(top_k: int, face_set_size: int | None, override: int | None = None) -> int:
    """The ef of one HNSW search: the operator's value when set, else enough candidates for
    ``top_k`` results (16 each) and at least what the face set's size needed in the benches.
    An unknown size counts as large: the cheaper choice that the 1M bench shows sufficient."""
    if override is not None:
        return min(max(override, top_k), MAX_EF)
    floor = EF_SMALL_SET if face_set_size is not None and face_set_size <= LARGE_FACE_SET else EF_LARGE_SET
    return min(max(EF_PER_RESULT * top_k, floor, top_k), MAX_EF)
