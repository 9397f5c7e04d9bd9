"""What a batch chunk pays to read its items from the manifest, at the batch size limit.

A manifest stored as one JSON object (as before `infra.batch_manifest`) against the root and
pages that chunks read now: 100,000 entries in a local object store, 16-item chunks at five
offsets, median per chunk.

    .venv/bin/python -m bench.manifest_read
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time

from core.payloads import BatchItem
from infra import batch_manifest
from infra.object_store.local import LocalObjectStore

ITEMS = 100_000
CHUNK = 16
OFFSETS = (0, 12_345, 31_984, 50_000, 99_984)


def main() -> int:
    items = [
        BatchItem(
            image_key=f"images/{index:064x}",
            external_image_id=f"img-{index}",
            source=f"photos/p{index}/{index}.jpg",
        )
        for index in range(ITEMS)
    ]
    with tempfile.TemporaryDirectory() as folder:
        store = LocalObjectStore(folder)
        whole = json.dumps([item.model_dump(mode="json") for item in items], separators=(",", ":")).encode()
        whole_key = store.put(whole, "application/json")
        paged_key = batch_manifest.store_manifest(store, items)

        def one_object(start: int) -> list[BatchItem]:
            return [BatchItem.model_validate(entry) for entry in json.loads(store.get(whole_key))][
                start : start + CHUNK
            ]

        def pages(start: int) -> list[BatchItem]:
            return batch_manifest.read_items(store, paged_key, start, start + CHUNK)

        print(f"{ITEMS} entries, {len(whole) / 1e6:.1f} MB as one object")
        for name, read in (("one object", one_object), ("root + pages", pages)):
            seconds = []
            for start in OFFSETS:
                started = time.perf_counter()
                assert read(start) == items[start : start + CHUNK]
                seconds.append(time.perf_counter() - started)
            print(f"{name}: {1000 * statistics.median(seconds):.1f} ms per chunk (median of {len(OFFSETS)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
