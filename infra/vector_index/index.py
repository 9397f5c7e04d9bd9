"""Face vectors in Milvus: one collection per embedding model, shared by every tenant.

Rows are keyed by ``vector_id(face_id)``, so writing the same face twice overwrites it
(a redelivered enrollment is a no-op). Each row carries its project and face set, and the
integer ``scope`` that stands for the pair: every search filters on it, so a face in one
project can never be returned to another. On a Milvus server ``scope`` is the partition
key; milvus-lite 2.5 mishandles partition-key filters ("primary_key_offset == -1"), so
there it is a plain field.

Distances: Milvus's L2 metric returns squared Euclidean distances; ``Hit.distance`` is the
plain Euclidean distance that the matching thresholds (e.g. dlib's 0.6) are written in.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import numpy as np
import numpy.typing as npt
from pymilvus import MilvusClient, utility

from infra.errors import TransientInfraError
from infra.vector_index.collections import Collections
from infra.vector_index.errors import is_not_loaded, translated
from infra.vector_index.freshness import last_write_timestamp, read_level
from infra.vector_index.records import (
    INT63_MASK,
    Consistency,
    Hit,
    IndexConfig,
    VectorRecord,
    milvus_string_literal,
    scope_key,
    vector_id,
)
from infra.vector_index.rows import (
    CollectionInfo,
    as_matrix,
    hits_from,
    require_dimension,
    row_for,
    without_filter_columns,
)

if TYPE_CHECKING:
    from infra.settings import VectorStoreSettings

SERVER_SCHEMES = ("http://", "https://", "tcp://", "grpc://")
WRITE_BATCH = 500
READ_BATCH = 1000
MAX_TOP_K = 16384
# Milvus's queryNode/dataCoord minSegmentNumRowsToEnableIndex default: smaller segments are
# brute-forced and never get an index.
MIN_INDEXED_SEGMENT_ROWS = 1024


class VectorIndex:
    """Upsert, delete and search face vectors; see the module docstring for the layout."""

    def __init__(
        self,
        uri: str,
        *,
        token: str = "",
        collection_prefix: str = "facefleet",
        index: IndexConfig | None = None,
        timeout_seconds: float = 5.0,
    ) -> None:
        self.uri = uri
        self.prefix = collection_prefix
        self.is_server = uri.startswith(SERVER_SCHEMES)
        self.index_config = index or IndexConfig()
        # pymilvus retries a failing call until this many whole seconds have passed (a
        # float makes it retry 75 times instead, for minutes): then the worker's own
        # retry with backoff takes over.
        self._timeout = max(1, math.ceil(timeout_seconds))
        self._alias = f"facefleet-{uuid.uuid4().hex}"
        if not self.is_server and not uri.startswith("unix:"):
            # A file path: pymilvus runs milvus-lite in this process (one process only;
            # several processes share one through ``start_embedded_milvus``).
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
        with translated("connect"):
            # A private alias: pymilvus shares connections by URI, and close() on a shared
            # one would cut off every other index object in this process.
            self._client = MilvusClient(
                uri=uri, token=token, timeout=self._timeout, alias=self._alias
            )
        self.catalog = Collections(
            self._client,
            prefix=collection_prefix,
            index_config=self.index_config,
            is_server=self.is_server,
            timeout=self._timeout,
        )

    @classmethod
    def from_settings(cls, settings: VectorStoreSettings) -> VectorIndex:
        return cls(
            settings.uri,
            token=settings.token.get_secret_value(),
            collection_prefix=settings.collection_prefix,
            index=IndexConfig(
                index_type=settings.index_type,
                hnsw_m=settings.hnsw_m,
                hnsw_ef_construction=settings.hnsw_ef_construction,
                search_ef=settings.search_ef,
            ),
            timeout_seconds=settings.timeout_seconds,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- writes ---------------------------------------------------------------------------
    def upsert(self, model_id: str, records: Sequence[VectorRecord]) -> int:
        """Insert or overwrite ``records``; the collection is created on first use. Returns
        the index's timestamp of the write (0 when nothing was written): a search given it
        as ``written_ts`` sees these vectors."""
        if not records:
            return 0
        vectors = as_matrix([record.vector for record in records])
        written_at = int(time.time() * 1000)
        # Rows are built (and validated) before the collection is created, so bad input
        # leaves nothing behind.
        rows = [row_for(record, vector, written_at) for record, vector in zip(records, vectors.tolist(), strict=True)]
        collection = self.catalog.ensure(model_id, vectors.shape[1])
        require_dimension(collection, vectors.shape[1])
        if not collection.filter_columns:
            rows = [without_filter_columns(row) for row in rows]
        with translated("upsert"):
            for start in range(0, len(rows), WRITE_BATCH):
                batch = rows[start : start + WRITE_BATCH]
                if collection.partition_key:
                    # Milvus 2.3's upsert files rows under the wrong partition when the
                    # collection has a partition key (a filtered search then misses them;
                    # measured on 2.3.5). Delete-then-insert is right on every version and
                    # just as idempotent; a search between the two calls may miss the face.
                    self._client.delete(collection.name, ids=[row["pk"] for row in batch], timeout=self._timeout)
                    self._client.insert(collection.name, batch, timeout=self._timeout)
                else:
                    self._client.upsert(collection.name, batch, timeout=self._timeout)
        return last_write_timestamp(collection.name)

    def delete(self, model_id: str, face_ids: Iterable[str]) -> None:
        """Remove these faces' vectors; unknown ids and an absent collection are no-ops."""
        ids = sorted({vector_id(face_id) for face_id in face_ids})
        collection = self.catalog.get(model_id)
        if collection is None or not ids:
            return
        with translated("delete"):
            for start in range(0, len(ids), READ_BATCH):
                self._client.delete(collection.name, ids=ids[start : start + READ_BATCH], timeout=self._timeout)

    def delete_by_face_set(self, model_id: str | None, project_id: str, face_set_id: str) -> None:
        """Remove every vector of one face set, in one model's collection or (None) in all."""
        expr = (
            f"scope == {scope_key(project_id, face_set_id)}"
            f" and project_id == {milvus_string_literal(project_id)}"
            f" and face_set_id == {milvus_string_literal(face_set_id)}"
        )
        models = self.collections() if model_id is None else [model_id]
        for model in models:
            collection = self.catalog.get(model)
            if collection is not None:
                with translated("delete_by_face_set"):
                    self._client.delete(collection.name, filter=expr, timeout=self._timeout)

    # --- reads ----------------------------------------------------------------------------
    def search(
        self,
        model_id: str,
        vectors: Sequence[Sequence[float] | npt.NDArray[np.floating[Any]]],
        top_k: int,
        project_id: str,
        face_set_id: str,
        expr: str | None = None,
        strong: bool = False,
        max_distance: float | None = None,
        face_set_size: int | None = None,
        written_ts: int | None = None,
    ) -> list[list[Hit]]:
        """The ``top_k`` nearest faces of one face set for each probe, nearest first.

        ``expr`` is a Milvus boolean expression over the row (``fields["age"] > 30``), built
        from trusted parts or by ``infra.search_filter``. ``strong`` makes writes acknowledged
        before this call visible (about 200 ms on a server), or with ``written_ts`` (an
        ``upsert``'s timestamp) the writes up to it, at once when they are visible already;
        otherwise Bounded consistency may miss the latest writes. ``max_distance`` drops hits
        farther than it.
        ``face_set_size`` (faces in the set, when known) sets HNSW's ef (``search_ef_for``).
        """
        if not 1 <= top_k <= MAX_TOP_K:
            raise ValueError(f"top_k must be between 1 and {MAX_TOP_K}, not {top_k}")
        if len(vectors) == 0:
            return []
        probes = as_matrix(vectors)
        collection = self.catalog.get(model_id)
        if collection is None:
            return [[] for _ in range(len(probes))]
        require_dimension(collection, probes.shape[1])
        scope = f"scope == {scope_key(project_id, face_set_id)}"
        consistency, guarantee = read_level(strong, written_ts)
        with self._reading(collection, "search", user_filter=expr):
            results = self._client.search(
                collection.name,
                data=probes.tolist(),
                filter=f"{scope} and ({expr})" if expr else scope,
                limit=top_k,
                output_fields=["face_id"],
                search_params=self.catalog.search_params(top_k, face_set_size),
                consistency_level=consistency.value,
                timeout=self._timeout,
                **guarantee,
            )
        return [hits_from(found, max_distance) for found in results]

    def get_vectors(self, model_id: str, face_ids: Iterable[str]) -> dict[str, npt.NDArray[np.float32]]:
        """The stored vector of each face that has one (read-after-write consistent)."""
        wanted = {vector_id(face_id): face_id for face_id in face_ids}
        collection = self.catalog.get(model_id)
        if collection is None or not wanted:
            return {}
        found: dict[str, npt.NDArray[np.float32]] = {}
        keys = sorted(wanted)
        with self._reading(collection, "get_vectors"):
            for start in range(0, len(keys), READ_BATCH):
                rows = self._client.query(
                    collection.name,
                    filter=f"pk in {keys[start : start + READ_BATCH]}",
                    output_fields=["face_id", "vector"],
                    consistency_level=Consistency.STRONG.value,
                    timeout=self._timeout,
                )
                for row in rows:
                    face_id = wanted.get(int(row["pk"]))
                    if face_id is not None and row["face_id"] == face_id:
                        found[face_id] = np.asarray(row["vector"], dtype=np.float32)
        return found

    def iter_face_ids(
        self, model_id: str, batch_size: int = READ_BATCH, written_before: datetime | None = None
    ) -> Iterator[list[str]]:
        """Every face id in one model's collection, in batches of at most ``batch_size``.

        ``written_before`` skips vectors written later, so a sweep for orphans can leave
        alone an enrollment whose SQL row is about to be committed.
        """
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        collection = self.catalog.get(model_id)
        if collection is None:
            return
        age = "" if written_before is None else f" and written_at < {int(written_before.timestamp() * 1000)}"
        # Keys are sha256-derived, so they spread evenly over [0, 2**63): slicing that range
        # into pieces expected to hold half a batch each pages through the collection with
        # plain Strong queries. (pymilvus's query_iterator returned nothing for fresh rows
        # on Milvus 2.3.5, and "pk > last limit n" relies on an ordering Milvus does not
        # promise.)
        slices = max(1, math.ceil(2 * self.count(model_id) / batch_size))
        width = -(-(INT63_MASK + 1) // slices)
        for low in range(0, INT63_MASK + 1, width):
            high = min(low + width - 1, INT63_MASK)
            with self._reading(collection, "iter_face_ids"):
                rows = self._client.query(
                    collection.name,
                    filter=f"pk >= {low} and pk <= {high}{age}",
                    output_fields=["face_id"],
                    consistency_level=Consistency.STRONG.value,
                    timeout=self._timeout,
                )
            face_ids = sorted(str(row["face_id"]) for row in rows)
            for start in range(0, len(face_ids), batch_size):
                yield face_ids[start : start + batch_size]

    def has_filter_columns(self, model_id: str) -> bool:
        """Whether filters on this model's collection may use the typed filter columns
        (``infra.filter_columns``): collections created before they existed have none.
        A collection that does not exist yet will have them."""
        collection = self.catalog.get(model_id)
        return collection is None or collection.filter_columns

    def count(self, model_id: str) -> int:
        """Rows in one model's collection (Strong: includes every acknowledged write)."""
        collection = self.catalog.get(model_id)
        if collection is None:
            return 0
        with self._reading(collection, "count"):
            rows = self._client.query(
                collection.name,
                filter="",
                output_fields=["count(*)"],
                consistency_level=Consistency.STRONG.value,
                timeout=self._timeout,
            )
        return int(rows[0]["count(*)"])

    def flush(self, model_id: str) -> None:
        """Seal what was written so a server indexes it (it brute-forces unsealed rows)."""
        collection = self.catalog.get(model_id)
        if collection is not None:
            with translated("flush"):
                self._client.flush(collection.name, timeout=self._timeout)

    def index_ready(self, model_id: str) -> bool:
        """Whether a server now searches every segment big enough to have an index through it.

        "Index built" (``describe_index``) is not enough: until the query node loads the
        built index, Milvus 2.3 searches a segment with its interim IVF index, and recall@10
        measured 0.49 there against 1.0 fifteen seconds later, once HNSW was loaded.
        Segments under ``MIN_INDEXED_SEGMENT_ROWS`` are always scanned exactly. milvus-lite
        (FLAT) is always ready. A segment reaches the query node with all its indexes built
        (vector and filter columns), and Milvus 2.3 names any one of them here.
        """
        collection = self.catalog.get(model_id)
        if collection is None or not self.is_server:
            return True
        with translated("get_query_segment_info"):
            segments = utility.get_query_segment_info(collection.name, timeout=self._timeout, using=self._alias)
        return bool(segments) and all(
            segment.index_name or segment.num_rows < MIN_INDEXED_SEGMENT_ROWS for segment in segments
        )

    # --- collections ---------------------------------------------------------------------
    def ensure_collection(self, model_id: str, dimension: int) -> CollectionInfo:
        """The collection of ``model_id``, created with ``dimension`` if it does not exist."""
        return self.catalog.ensure(model_id, dimension)

    def drop_collection(self, model_id: str) -> None:
        """Remove one model's collection and every vector in it (a model retired)."""
        self.catalog.drop(model_id)

    def collections(self) -> list[str]:
        """The embedding model ids that have a collection (this prefix only)."""
        return self.catalog.model_ids()

    @contextmanager
    def _reading(self, collection: CollectionInfo, operation: str, user_filter: str | None = None) -> Iterator[None]:
        """``translated``, and forgetting a collection the server says is not loaded.

        A restarted server reloads what was loaded, answering "collection not loaded" (a
        transient error) meanwhile; should it not, the next call loads it again itself."""
        try:
            with translated(operation, user_filter):
                yield
        except TransientInfraError as error:
            if is_not_loaded(error):
                self.catalog.forget(collection.name)
            raise
