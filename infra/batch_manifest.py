"""A batch's manifest (one ``BatchItem`` per input) in the object store, in pages.

A batch holds up to 100 000 items, and each of its chunks enrolls 16 of them. A manifest
stored as one object made every chunk read and parse all of it (23 MB and 1.3 s at 100 000
items, ``bench.manifest_read``, against ~1 s to enroll the chunk's 16 images), so a large
batch ran at half speed. Stored in pages, a chunk reads the small root object and the one
or two pages its range lies in, and validates only its own items.

Layout: the manifest's key is the root object, ``{"page_items": N, "total": T, "pages":
[key, ...]}``; page ``i`` holds items ``i*N`` to ``(i+1)*N`` as a JSON array. Every object
is content-addressed like the images, so the same upload gives the same keys (an
Idempotency-Key retry finds its first job). A root that is a JSON array is a manifest
written before pages existed: the whole list, still read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol

from core.payloads import BatchItem

PAGE_ITEMS = 1000
JSON = "application/json"


class _Writer(Protocol):
    def put(self, data: bytes, content_type: str) -> str: ...


class _Reader(Protocol):
    def get(self, key: str) -> bytes: ...


def store_manifest(store: _Writer, items: Sequence[BatchItem], page_items: int = PAGE_ITEMS) -> str:
    """Store ``items`` as pages and a root; return the root's key (the manifest's key)."""
    pages = [
        store.put(_json([item.model_dump(mode="json") for item in items[start : start + page_items]]), JSON)
        for start in range(0, len(items), page_items)
    ]
    return store.put(_json({"page_items": page_items, "total": len(items), "pages": pages}), JSON)


def read_items(store: _Reader, key: str, start: int, stop: int) -> list[BatchItem]:
    """Items ``start`` to ``stop`` (exclusive) of the manifest, reading only their pages."""
    root = json.loads(store.get(key))
    if isinstance(root, list):
        return [BatchItem.model_validate(entry) for entry in root[start:stop]]
    page_items = int(root["page_items"])
    pages: list[str] = root["pages"]
    found: list[BatchItem] = []
    for page in range(start // page_items, min(-(-stop // page_items), len(pages))):
        entries = json.loads(store.get(pages[page]))
        first = page * page_items
        found += [BatchItem.model_validate(entry) for entry in entries[max(start - first, 0) : stop - first]]
    return found


def keys_in_use(store: _Reader, key: str) -> set[str]:
    """The objects a running batch still needs besides its root: its pages and the images
    its items name."""
    root = json.loads(store.get(key))
    pages: list[str] = [] if isinstance(root, list) else [str(page) for page in root["pages"]]
    entries = root if isinstance(root, list) else [e for page in pages for e in json.loads(store.get(page))]
    return {*pages, *(str(entry["image_key"]) for entry in entries if entry.get("image_key"))}


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()
