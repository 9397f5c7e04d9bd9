"""Reading a client's own S3 object (Rekognition's ``S3Object``) from a bucket the operator
allowed, with FaceFleet's S3 credentials. Only the listed buckets are ever read, so an
``S3Object`` can never make this service fetch anything else."""

from __future__ import annotations

from minio import Minio
from minio.error import MinioException, S3Error

from infra.errors import InfraError, ObjectNotFound, TransientInfraError
from infra.object_store.s3 import default_http_client
from infra.settings import Settings

_MISSING_CODES = {
    "NoSuchKey",
    "NoSuchObject",
    "NoSuchVersion",
    "NoSuchBucket",
    "ResourceNotFound",
    "InvalidArgument",
}


class BucketNotAllowed(InfraError):
    """The bucket is not on the operator's list (or none is configured)."""


class SourceObjectTooLarge(InfraError):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"the object has {size} bytes; at most {limit} are read")
        self.size = size
        self.limit = limit


class SourceBuckets:
    def __init__(self, settings: Settings) -> None:
        config = settings.rekognition
        store = settings.object_store
        self.allowed = frozenset(config.s3_buckets)
        self.endpoint = config.s3_endpoint or store.endpoint
        access_key = config.s3_access_key if config.s3_access_key is not None else store.access_key
        secret_key = config.s3_secret_key if config.s3_secret_key is not None else store.secret_key
        self._client = Minio(
            self.endpoint,
            access_key=access_key.get_secret_value() or None,
            secret_key=secret_key.get_secret_value() or None,
            secure=store.secure if config.s3_secure is None else config.s3_secure,
            region=store.region,
            http_client=default_http_client(retries=1),
        )

    def read(self, bucket: str, name: str, version: str | None, max_bytes: int) -> bytes:
        if bucket not in self.allowed:
            raise BucketNotAllowed(f"bucket {bucket[:64]!r} is not readable by this service")
        try:
            stat = self._client.stat_object(bucket, name, version_id=version)
            if stat.size is not None and stat.size > max_bytes:
                raise SourceObjectTooLarge(stat.size, max_bytes)
            response = self._client.get_object(bucket, name, version_id=version)
            try:
                data = response.read(max_bytes + 1)
            finally:
                response.close()
                response.release_conn()
        except S3Error as failed:
            if failed.code in _MISSING_CODES or failed.code == "AccessDenied":
                raise ObjectNotFound(f"{bucket}/{name}") from failed
            raise TransientInfraError("s3", failed.code or "error") from failed
        except (MinioException, OSError) as failed:
            raise TransientInfraError("s3", type(failed).__name__) from failed
        if len(data) > max_bytes:
            raise SourceObjectTooLarge(len(data), max_bytes)
        return data
