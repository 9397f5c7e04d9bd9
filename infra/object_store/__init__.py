"""Content-addressed object storage: a local directory (embedded) or S3/MinIO (distributed)."""

from __future__ import annotations

from infra.object_store.base import (
    DEFAULT_PREFIX,
    ObjectNotFound,
    ObjectStore,
    ObjectStoreUnavailable,
    content_key,
    validate_key,
)
from infra.object_store.local import LocalObjectStore
from infra.object_store.s3 import S3ObjectStore
from infra.settings import ObjectStoreKind, ObjectStoreSettings, Settings

__all__ = [
    "DEFAULT_PREFIX",
    "LocalObjectStore",
    "ObjectNotFound",
    "ObjectStore",
    "ObjectStoreUnavailable",
    "S3ObjectStore",
    "content_key",
    "object_store_from_settings",
    "validate_key",
]


def object_store_from_settings(settings: Settings | ObjectStoreSettings) -> ObjectStore:
    """The configured store; accepts the whole ``Settings`` or its ``object_store`` part."""
    config = settings.object_store if isinstance(settings, Settings) else settings
    if config.kind is ObjectStoreKind.LOCAL:
        return LocalObjectStore(config.local_root)
    return S3ObjectStore(
        config.endpoint,
        config.access_key.get_secret_value(),
        config.secret_key.get_secret_value(),
        config.bucket,
        secure=config.secure,
        region=config.region,
    )
