"""The object store contract on a local directory and on a real S3 server (moto)."""

from __future__ import annotations

import hashlib
import io
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from infra.object_store import (
    LocalObjectStore,
    ObjectNotFound,
    ObjectStore,
    ObjectStoreUnavailable,
    S3ObjectStore,
    object_store_from_settings,
)
from infra.settings import ObjectStoreKind, ObjectStoreSettings, Settings

FACES = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "faces"
pytestmark = pytest.mark.integration


def real_image() -> bytes:
    return next(p for p in sorted(FACES.rglob("*.jpg"))).read_bytes()


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalObjectStore(tmp_path / "objects")
    server = request.getfixturevalue("s3_server")
    # A bucket per test: listings never see another test's objects.
    s3: Any = server.store(bucket=f"t-{uuid.uuid4().hex[:12]}")
    return s3  # type: ignore[no-any-return]


def test_put_is_content_addressed_and_idempotent(store: ObjectStore) -> None:
    data = real_image()
    key = store.put(data, "image/jpeg")
    assert key == f"images/{hashlib.sha256(data).hexdigest()}"
    assert store.put(data, "image/jpeg") == key
    assert store.exists(key)
    assert store.get(key) == data
    assert list(store.list_keys("images")) == [key]


def test_prefix_put_stream_and_listing_with_times(store: ObjectStore) -> None:
    crop = store.put(b"crop bytes", "image/jpeg", prefix="crops")
    big = bytes(range(256)) * 20_000  # 5 MB: multipart on S3
    streamed = store.put_stream(io.BytesIO(big), "application/zip", prefix="batches")
    assert streamed == f"batches/{hashlib.sha256(big).hexdigest()}"
    assert store.get(streamed) == big
    assert list(store.list_keys("crops")) == [crop]
    listed = dict(store.list_with_times("batches"))
    assert set(listed) == {streamed}
    assert abs(listed[streamed] - datetime.now(UTC)) < timedelta(minutes=5)
    assert list(store.list_keys("nothing-here")) == []


def test_missing_objects_and_idempotent_delete(store: ObjectStore) -> None:
    key = store.put(b"to be deleted", "text/plain")
    store.delete(key)
    store.delete(key)
    assert not store.exists(key)
    with pytest.raises(ObjectNotFound):
        store.get(key)
    with pytest.raises(ObjectNotFound):
        store.get("images/" + "0" * 64)


@pytest.mark.parametrize(
    "bad_key", ["../etc/passwd", "images/../../x", "/abs", "images//x", ".tmp/x", "images/.hidden", "", "a\\b"]
)
def test_unsafe_keys_are_refused(store: ObjectStore, bad_key: str) -> None:
    with pytest.raises(ValueError):
        store.get(bad_key)
    with pytest.raises(ValueError):
        store.exists(bad_key)
    with pytest.raises(ValueError):
        store.put(b"x", "text/plain", prefix=bad_key or "..")


def test_presigned_url_reads_the_object(store: ObjectStore) -> None:
    data = real_image()
    key = store.put(data, "image/jpeg")
    url = store.presigned_url(key, 60)
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == data


def test_local_store_leaves_no_temp_files(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    for index in range(5):
        store.put(f"object {index}".encode(), "text/plain")
    assert list((tmp_path / ".tmp").iterdir()) == []
    assert len(list(store.list_keys("images"))) == 5


def test_unreachable_s3_is_a_transient_error() -> None:
    from infra.object_store.s3 import default_http_client
    from tests.conftest import free_port

    store = S3ObjectStore(
        f"127.0.0.1:{free_port()}", "k", "s", "nobody-listens", http_client=default_http_client(1.0, retries=0)
    )
    with pytest.raises(ObjectStoreUnavailable):
        store.put(b"x", "text/plain")


def test_factory_builds_both_kinds(tmp_path: Path, s3_server: Any) -> None:
    local = object_store_from_settings(Settings.embedded(tmp_path))
    assert isinstance(local, LocalObjectStore)
    s3 = object_store_from_settings(
        ObjectStoreSettings(
            kind=ObjectStoreKind.S3,
            endpoint=s3_server.endpoint,
            access_key=s3_server.access_key,
            secret_key=s3_server.secret_key,
            bucket=f"factory-{uuid.uuid4().hex[:8]}",
        )
    )
    assert isinstance(s3, S3ObjectStore)
    key = s3.put(b"through the factory", "text/plain")  # the bucket is created on first use
    assert s3.get(key) == b"through the factory"
