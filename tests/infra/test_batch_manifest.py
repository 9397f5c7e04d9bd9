"""A batch manifest in pages: a chunk reads its own items, not the whole manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.payloads import BatchItem
from infra import batch_manifest
from infra.object_store.local import LocalObjectStore


class ReadCountingStore(LocalObjectStore):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.bytes_read = 0

    def get(self, key: str) -> bytes:
        data = super().get(key)
        self.bytes_read += len(data)
        return data


def items(count: int) -> list[BatchItem]:
    return [
        BatchItem(image_key=f"images/{index:064x}", external_image_id=f"img-{index}", source=f"p/{index}.jpg")
        for index in range(count)
    ]


@pytest.mark.parametrize(
    ("start", "stop"), [(0, 16), (992, 1008), (1000, 1016), (2496, 2500), (7, 7), (2490, 2600)]
)
def test_a_range_reads_back_the_items_it_names(tmp_path: Path, start: int, stop: int) -> None:
    store = LocalObjectStore(tmp_path)
    written = items(2500)
    key = batch_manifest.store_manifest(store, written)

    assert batch_manifest.read_items(store, key, start, stop) == written[start:stop]


def test_a_chunk_of_a_large_batch_reads_a_small_part_of_its_manifest(tmp_path: Path) -> None:
    store = ReadCountingStore(tmp_path)
    key = batch_manifest.store_manifest(store, items(20_000))
    whole = sum(len(store.get(page)) for page in json.loads(store.get(key))["pages"])
    store.bytes_read = 0

    chunk = batch_manifest.read_items(store, key, 12_345, 12_361)

    assert [item.external_image_id for item in chunk] == [f"img-{i}" for i in range(12_345, 12_361)]
    # The root and one page of 1000 items: a twentieth of the manifest, whatever its size.
    assert store.bytes_read < whole / 15


def test_the_same_items_give_the_same_key(tmp_path: Path) -> None:
    """An Idempotency-Key retry rebuilds the same manifest and must find the same job."""
    store = LocalObjectStore(tmp_path)

    assert batch_manifest.store_manifest(store, items(1500)) == batch_manifest.store_manifest(
        store, items(1500)
    )


def test_a_manifest_written_as_one_list_is_still_read(tmp_path: Path) -> None:
    """Batches queued by an earlier version keep working across an upgrade."""
    store = LocalObjectStore(tmp_path)
    written = items(40)
    key = store.put(
        json.dumps([item.model_dump(mode="json") for item in written]).encode(), "application/json"
    )

    assert batch_manifest.read_items(store, key, 16, 32) == written[16:32]
    assert batch_manifest.keys_in_use(store, key) == {item.image_key for item in written}


def test_housekeeping_keeps_every_page_and_every_image(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    written = [*items(2100), BatchItem(external_image_id="refused", rejected="invalid_image")]
    key = batch_manifest.store_manifest(store, written)
    pages = json.loads(store.get(key))["pages"]

    kept = batch_manifest.keys_in_use(store, key)

    assert len(pages) == 3
    assert kept == {*pages, *(item.image_key for item in written if item.image_key)}
