"""The batch intake streams: 10,000 images in one multipart body pass through the API with
memory bounded by one image, each stored as soon as its part ends, in order.

A unit test of the intake's logic: the store records each object's digest and size instead
of writing 10,000 files (a real LocalObjectStore fsyncs each one, ~40 s on a busy disk; the
real stores are covered by tests/infra and the 200-image batch in test_batch.py)."""

from __future__ import annotations

import hashlib
import io
import json
import tracemalloc
from collections.abc import Iterator

from api.batch import BatchIntake

BOUNDARY = b"facefleet-test-boundary"
IMAGE_COUNT = 10_000
IMAGE_BYTES = 16 * 1024


class DigestStore:
    """Content-addressed like the real stores, keeping only digests and sizes."""

    def __init__(self) -> None:
        self.sizes: dict[str, int] = {}
        self.manifest = b""

    def put(self, data: bytes, content_type: str) -> str:
        key = f"images/{hashlib.sha256(data).hexdigest()}"
        self.sizes[key] = len(data)
        if content_type == "application/json":
            self.manifest = data
        return key

    def exists(self, key: str) -> bool:
        return key in self.sizes


class GeneratedBody(io.RawIOBase):
    """A multipart body produced part by part while it is read, never held whole."""

    def __init__(self, parts: Iterator[bytes]) -> None:
        self.parts = parts
        self.pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while len(self.pending) < len(buffer):
            try:
                self.pending += next(self.parts)
            except StopIteration:
                break
        size = min(len(buffer), len(self.pending))
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        return size


def _image(index: int) -> bytes:
    # Distinct bytes per image: content-addressed keys would otherwise collapse them.
    return b"\xff\xd8\xff" + index.to_bytes(4, "big") * (IMAGE_BYTES // 4)


def _parts(count: int) -> Iterator[bytes]:
    yield (
        b"--" + BOUNDARY + b"\r\nContent-Disposition: form-data; name=\"select\"\r\n\r\nsingle\r\n"
    )
    for index in range(count):
        yield (
            b"--" + BOUNDARY + b"\r\n"
            b"Content-Disposition: form-data; name=\"image_file\"; filename=\"img_%05d.jpg\"\r\n"
            b"Content-Type: image/jpeg\r\n\r\n" % index
        ) + _image(index) + b"\r\n"
    yield b"--" + BOUNDARY + b"--\r\n"


def test_ten_thousand_images_stream_through_with_bounded_memory() -> None:
    store = DigestStore()
    intake = BatchIntake(store, max_image_bytes=1024 * 1024, max_items=100_000, project_id="p1")
    body = io.BufferedReader(GeneratedBody(_parts(IMAGE_COUNT)), buffer_size=64 * 1024)

    tracemalloc.start()
    try:
        fields = intake.read_multipart(body, BOUNDARY)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    total_bytes = IMAGE_COUNT * IMAGE_BYTES
    assert fields == {"select": "single"}
    # What remains is per-item bookkeeping (~300 bytes each: source, key, digest), not image bytes.
    assert peak < total_bytes / 20, f"peak {peak} bytes for {total_bytes} bytes of images"
    items = intake.manifest({}, {}, [], "none")
    assert len(items) == IMAGE_COUNT
    assert [item.source for item in items[:2]] == ["img_00000.jpg", "img_00001.jpg"]
    assert items[-1].external_image_id == f"img_{IMAGE_COUNT - 1:05d}"
    assert all(item.rejected is None and item.image_key for item in items)
    assert items[123].image_key == f"images/{hashlib.sha256(_image(123)).hexdigest()}"
    assert set(store.sizes.values()) == {len(_image(0))}

    intake.store_manifest(items)
    manifest = json.loads(store.manifest)
    assert len(manifest) == IMAGE_COUNT
    assert manifest[42]["image_key"] == items[42].image_key
