"""Object store on S3 (MinIO, AWS, anything S3-compatible) through the ``minio`` SDK.

The bucket is created on first use. Network failures, timeouts and 5xx answers become
``ObjectStoreUnavailable`` (retried by workers); a missing object is ``ObjectNotFound``.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import BinaryIO, TypeVar

import urllib3
from minio import Minio
from minio.error import MinioException, S3Error, ServerError

from infra.object_store.base import (
    DEFAULT_PREFIX,
    ObjectNotFound,
    ObjectStoreUnavailable,
    content_key,
    validate_key,
    validate_prefix,
)

CHUNK_BYTES = 1024 * 1024
HEAD_FIRST_BYTES = 1024 * 1024
_MISSING_CODES = {"NoSuchKey", "NoSuchObject", "ResourceNotFound"}
# S3 error codes that mean "busy, try again" rather than "this request is wrong".
_TRANSIENT_CODES = {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "XMinioServerNotInitialized"}
T = TypeVar("T")


def default_http_client(timeout_seconds: float = 10.0, retries: int = 2) -> urllib3.PoolManager:
    """A pool with a bounded timeout and few retries: the SDK default retries for minutes,
    which would hold a worker far longer than our own backoff does."""
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=timeout_seconds, read=timeout_seconds),
        maxsize=16,
        retries=urllib3.Retry(total=retries, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
    )


class S3ObjectStore:
    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        *,
        secure: bool = False,
        region: str | None = None,
        http_client: urllib3.PoolManager | None = None,
    ) -> None:
        self.bucket = bucket
        self.endpoint = endpoint
        self.client = Minio(
            endpoint,
            access_key=access_key or None,
            secret_key=secret_key or None,
            secure=secure,
            region=region,
            http_client=http_client or default_http_client(),
        )
        self._bucket_ready = False
        self._bucket_lock = threading.Lock()

    def ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        with self._bucket_lock:
            if self._bucket_ready:
                return

            def create() -> None:
                if not self.client.bucket_exists(self.bucket):
                    try:
                        self.client.make_bucket(self.bucket)
                    except S3Error as error:
                        # Another process created it between our check and our call.
                        if error.code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                            raise

            self._call(create)
            self._bucket_ready = True

    def _call(self, operation: Callable[[], T], key: str | None = None) -> T:
        try:
            return operation()
        except S3Error as error:
            if key is not None and error.code in _MISSING_CODES:
                raise ObjectNotFound(key) from error
            if error.code in _TRANSIENT_CODES:
                raise ObjectStoreUnavailable(f"{error.code}: {error.message}") from error
            raise
        except ServerError as error:
            raise ObjectStoreUnavailable(f"server error {error.status_code}") from error
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise ObjectStoreUnavailable(f"cannot reach {self.endpoint}: {error}") from error
        except MinioException as error:
            raise ObjectStoreUnavailable(str(error)) from error

    def put(self, data: bytes, content_type: str, prefix: str = DEFAULT_PREFIX) -> str:
        key = content_key(data, prefix)
        self.ensure_bucket()
        # Content-addressed: an object already under this key holds these very bytes, so
        # rewriting it is harmless. Below HEAD_FIRST_BYTES one PUT costs less than a HEAD
        # plus a PUT; above it, a HEAD can spare the upload.
        if len(data) < HEAD_FIRST_BYTES or not self.exists(key):
            self._call(lambda: self.client.put_object(self.bucket, key, io.BytesIO(data), len(data), content_type))
        return key

    def put_stream(self, stream: BinaryIO, content_type: str, prefix: str = DEFAULT_PREFIX) -> str:
        """Spool to a temp file while hashing (the key must be known before the upload),
        then upload it with multipart when large."""
        prefix = validate_prefix(prefix)
        self.ensure_bucket()
        digest = hashlib.sha256()
        with tempfile.NamedTemporaryFile(prefix="facefleet-upload-") as spool:
            while chunk := stream.read(CHUNK_BYTES):
                digest.update(chunk)
                spool.write(chunk)
            spool.flush()
            key = f"{prefix}/{digest.hexdigest()}"
            if not self.exists(key):
                path = spool.name
                self._call(lambda: self.client.fput_object(self.bucket, key, path, content_type=content_type))
        return key

    def get(self, key: str) -> bytes:
        validate_key(key)
        self.ensure_bucket()

        def read() -> bytes:
            response = self.client.get_object(self.bucket, key)
            try:
                return bytes(response.read())
            finally:
                response.close()
                response.release_conn()

        return self._call(read, key)

    def exists(self, key: str) -> bool:
        validate_key(key)
        self.ensure_bucket()
        try:
            self._call(lambda: self.client.stat_object(self.bucket, key), key)
        except ObjectNotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        validate_key(key)
        self.ensure_bucket()
        try:
            # S3 answers 204 for a missing key already; the catch covers stricter servers.
            self._call(lambda: self.client.remove_object(self.bucket, key), key)
        except ObjectNotFound:
            pass

    def list_keys(self, prefix: str) -> Iterator[str]:
        for key, _ in self.list_with_times(prefix):
            yield key

    def list_with_times(self, prefix: str) -> Iterator[tuple[str, datetime]]:
        folder = validate_prefix(prefix) + "/"
        self.ensure_bucket()
        listing = self._call(lambda: iter(self.client.list_objects(self.bucket, prefix=folder, recursive=True)))
        while True:
            item = self._call(lambda: next(listing, None))
            if item is None:
                return
            if item.object_name is None or item.is_dir:
                continue
            modified = item.last_modified or datetime.now(UTC)
            yield item.object_name, modified.astimezone(UTC)

    def presigned_url(self, key: str, expires_seconds: int = 3600) -> str:
        validate_key(key)
        self.ensure_bucket()
        return self._call(
            lambda: self.client.presigned_get_object(self.bucket, key, expires=timedelta(seconds=expires_seconds))
        )
