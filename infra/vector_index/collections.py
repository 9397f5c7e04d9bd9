"""The collections of one ``VectorIndex``: created, described, indexed and loaded once.

A collection is looked up once per process and remembered; everything that must be true
before it is searched (its indexes exist, it is loaded) is made true on that first lookup.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from pymilvus import MilvusClient
from pymilvus.exceptions import MilvusException

from infra.errors import TransientInfraError
from infra.filter_columns import NUMBER_COLUMNS, STRING_COLUMNS
from infra.vector_index.errors import translated
from infra.vector_index.records import Consistency, IndexConfig, collection_name, search_ef_for
from infra.vector_index.rows import DESCRIPTION_PREFIX, CollectionInfo, schema_for

FIRST_FILTER_COLUMN = STRING_COLUMNS[0]
# Named, because a collection with scalar indexes too needs the name to ask about this one.
VECTOR_INDEX = "vector"
INDEX_CHANGED_WHILE_LOADED = "can't change the index for loaded collection"


class Collections:
    """One collection per embedding model under ``prefix``, as this process knows them."""

    def __init__(
        self, client: MilvusClient, *, prefix: str, index_config: IndexConfig, is_server: bool, timeout: int
    ) -> None:
        self._client = client
        self.prefix = prefix
        self.index_config = index_config
        self.is_server = is_server
        self._timeout = timeout
        self._lock = threading.Lock()
        self._known: dict[str, CollectionInfo] = {}

    def get(self, model_id: str) -> CollectionInfo | None:
        """``model_id``'s collection, loaded and with every index, or None if it does not exist."""
        name = collection_name(self.prefix, model_id)
        with self._lock:
            known = self._known.get(name)
        if known is not None:
            return known
        described = self.describe(name)
        if described is None:
            return None
        if described.model_id != model_id:
            raise ValueError(f"collection {name} belongs to model {described.model_id!r}, not {model_id!r}")
        self._load(described)
        with self._lock:
            self._known[name] = described
        return described

    def forget(self, name: str) -> None:
        """Look ``name`` up again next time (a server that restarted may have unloaded it)."""
        with self._lock:
            self._known.pop(name, None)

    def ensure(self, model_id: str, dimension: int) -> CollectionInfo:
        """The collection of ``model_id``, created with ``dimension`` if it does not exist."""
        existing = self.get(model_id)
        if existing is not None:
            return existing
        name = collection_name(self.prefix, model_id)
        partition_key = self.is_server and self.index_config.partition_key
        with translated("create_collection"):
            try:
                self._client.create_collection(
                    name,
                    schema=schema_for(model_id, dimension, partition_key),
                    consistency_level=Consistency.BOUNDED.value,
                    timeout=self._timeout,
                )
                # Without waiting for each index to be built: pymilvus polls every 0.5 s
                # per index, and with 13 of them the first enrollment of a model waited
                # ~10 s on a server for an empty collection that has nothing to build.
                self._client.create_index(name, self.index_params(), timeout=self._timeout, sync=False)
            except MilvusException:
                # Another worker may have created it first; anything else re-raises.
                if self.get(model_id) is None:
                    raise
        created = self.get(model_id)
        if created is None:
            raise RuntimeError(f"collection {name} was created but cannot be described")
        return created

    def drop(self, model_id: str) -> None:
        """Remove one model's collection and every vector in it (a model retired)."""
        name = collection_name(self.prefix, model_id)
        self.forget(name)
        with translated("drop_collection"):
            if self._client.has_collection(name, timeout=self._timeout):
                self._client.drop_collection(name, timeout=self._timeout)

    def model_ids(self) -> list[str]:
        """The embedding model ids that have a collection (this prefix only)."""
        with translated("collections"):
            names = self._client.list_collections(timeout=self._timeout)
        models = []
        for name in sorted(names):
            if name.startswith(self.prefix + "_"):
                described = self.describe(name)
                if described is not None:
                    models.append(described.model_id)
        return models

    def describe(self, name: str) -> CollectionInfo | None:
        """What the server says of collection ``name``; None when absent or not FaceFleet's."""
        with translated("describe_collection"):
            if not self._client.has_collection(name, timeout=self._timeout):
                return None
            info = self._client.describe_collection(name, timeout=self._timeout)
        description = str(info.get("description", ""))
        if not description.startswith(DESCRIPTION_PREFIX):
            return None  # not ours, although it shares the prefix
        fields = {field["name"]: field for field in info["fields"]}
        return CollectionInfo(
            name=name,
            model_id=json.loads(description[len(DESCRIPTION_PREFIX) :]),
            dimension=int(fields["vector"]["params"]["dim"]),
            partition_key=bool(fields["scope"].get("is_partition_key", False)),
            filter_columns=FIRST_FILTER_COLUMN in fields,
        )

    def index_params(self, only: set[str] | None = None) -> Any:
        """Every index of a new collection, or those named in ``only``."""
        params = self._client.prepare_index_params()
        config = self.index_config
        if not self.is_server:
            params.add_index("vector", index_type="FLAT", metric_type="L2", index_name=VECTOR_INDEX)
        elif config.index_type.upper() == "HNSW":
            params.add_index(
                "vector",
                index_type="HNSW",
                metric_type="L2",
                index_name=VECTOR_INDEX,
                params={"M": config.hnsw_m, "efConstruction": config.hnsw_ef_construction},
            )
        else:
            params.add_index(
                "vector", index_type=config.index_type.upper(), metric_type="L2", index_name=VECTOR_INDEX
            )
        if self.is_server:
            # A filter on an indexed column is a lookup instead of a scan of every row: at
            # 1M rows a filtered search took 10.7 ms instead of 17.9 (string, Trie).
            for column in STRING_COLUMNS:
                params.add_index(column, index_type="Trie", index_name=column)
            for column in NUMBER_COLUMNS:
                params.add_index(column, index_type="STL_SORT", index_name=column)
        if only is not None:
            chosen = self._client.prepare_index_params()
            for param in params:
                if param.index_name in only:
                    chosen.add_index(
                        param.field_name, index_name=param.index_name, **param.get_index_configs()
                    )
            return chosen
        return params

    def search_params(self, top_k: int, face_set_size: int | None = None) -> dict[str, Any]:
        if self.is_server and self.index_config.index_type.upper() == "HNSW":
            ef = search_ef_for(top_k, face_set_size, self.index_config.search_ef)
            return {"metric_type": "L2", "params": {"ef": ef}}
        return {"metric_type": "L2", "params": {}}

    def _load(self, collection: CollectionInfo) -> None:
        """Load a collection, but only once every index it should have exists.

        Milvus refuses to add an index to a loaded collection and, worse, then refuses every
        later load: "can't change the index for loaded collection" (code 1100). A worker that
        loaded a collection another worker was still adding its 13 indexes to (two workers
        enrolling the first faces at once) left it so, and every search of every process
        started afterwards failed with a 500 (the flaky bench.api_load run). So the missing
        indexes are created first (idempotent: the same index again is accepted), and a
        collection already left in that state is released and loaded again.
        """
        wanted = self._index_names(collection)
        with translated("list_indexes"):
            missing = wanted - set(self._client.list_indexes(collection.name, timeout=self._timeout))
        if missing:
            with translated("create_index"):
                try:
                    self._client.create_index(
                        collection.name, self.index_params(only=missing), timeout=self._timeout, sync=False
                    )
                except MilvusException:
                    # Another worker is creating the same indexes; what matters is that they exist.
                    still = wanted - set(self._client.list_indexes(collection.name, timeout=self._timeout))
                    if still:
                        raise TransientInfraError(
                            "milvus", f"indexes of {collection.name} not created yet"
                        ) from None
        with translated("load_collection"):
            # A server forgets what was loaded when it restarts; loading twice is a no-op.
            try:
                self._client.load_collection(collection.name, timeout=self._timeout)
            except MilvusException as refused:
                if INDEX_CHANGED_WHILE_LOADED not in str(refused.message):
                    raise
                self._client.release_collection(collection.name, timeout=self._timeout)
                self._client.load_collection(collection.name, timeout=self._timeout)

    def _index_names(self, collection: CollectionInfo) -> set[str]:
        columns = (*STRING_COLUMNS, *NUMBER_COLUMNS) if self.is_server and collection.filter_columns else ()
        return {VECTOR_INDEX, *columns}
