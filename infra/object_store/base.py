"""The object store contract shared by the local-directory and S3 adapters.

Objects are content-addressed: ``put`` stores bytes under ``<prefix>/<sha256 hex>``, so
storing the same bytes twice is a no-op and a redelivered task can rewrite freely.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import datetime
from typing import BinaryIO, Protocol, runtime_checkable

from infra.errors import ObjectNotFound, TransientInfraError

__all__ = [
    "DEFAULT_PREFIX",
    "ObjectNotFound",
    "ObjectStore",
    "ObjectStoreUnavailable",
    "content_key",
    "validate_key",
    "validate_prefix",
]

DEFAULT_PREFIX = "images"
MAX_KEY_LENGTH = 512
# Segments never start with a dot, so "." / ".." and hidden temp names cannot be keys.
_SEGMENT = r"[A-Za-z0-9_][A-Za-z0-9._=-]*"
_KEY = re.compile(rf"^{_SEGMENT}(/{_SEGMENT})*$")
_PREFIX = re.compile(rf"^{_SEGMENT}(/{_SEGMENT})*$")


class ObjectStoreUnavailable(TransientInfraError):
    """The store did not answer (connection refused, timeout, 5xx): retry later."""

    def __init__(self, message: str) -> None:
        super().__init__("object store", message)


def validate_key(key: str) -> str:
    """Return ``key`` if it is a safe object key; raise ``ValueError`` otherwise."""
    if not isinstance(key, str) or len(key) > MAX_KEY_LENGTH or not _KEY.fullmatch(key):
        raise ValueError(f"invalid object key: {key!r}")
    return key


def validate_prefix(prefix: str) -> str:
    prefix = prefix.rstrip("/") if isinstance(prefix, str) else prefix
    if len(prefix) > MAX_KEY_LENGTH - 70 or not _PREFIX.fullmatch(prefix):
        raise ValueError(f"invalid object key prefix: {prefix!r}")
    return prefix


def content_key(data: bytes, prefix: str = DEFAULT_PREFIX) -> str:
    return f"{validate_prefix(prefix)}/{hashlib.sha256(data).hexdigest()}"


@runtime_checkable
class ObjectStore(Protocol):
    def put(self, data: bytes, content_type: str, prefix: str = DEFAULT_PREFIX) -> str:
        """Store ``data`` under its content hash and return the key (idempotent)."""
        ...

    def put_stream(self, stream: BinaryIO, content_type: str, prefix: str = DEFAULT_PREFIX) -> str:
        """Like ``put`` for large inputs: the stream is hashed and copied in chunks."""
        ...

    def get(self, key: str) -> bytes:
        """The object's bytes; ``ObjectNotFound`` if there is none."""
        ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove the object; deleting a missing key is not an error."""
        ...

    def list_keys(self, prefix: str) -> Iterator[str]:
        """Every key under ``prefix`` (a folder-like prefix such as ``images``)."""
        ...

    def list_with_times(self, prefix: str) -> Iterator[tuple[str, datetime]]:
        """Keys under ``prefix`` with their last-modified time (UTC), for reconciliation."""
        ...

    def presigned_url(self, key: str, expires_seconds: int = 3600) -> str:
        """A URL that reads the object without credentials until it expires."""
        ...
