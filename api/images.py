"""Image inputs: multipart file, base64 text or a reference to this deployment's store.

The API checks what it can without decoding (size, base64 validity, where a URL points),
stores the bytes once under their content hash and hands the key to the worker, which
decodes. ``image_url`` is never fetched: it may only name an object of our own bucket as
``/bucket/key`` (the seed's OBS form), so it cannot be turned into a server-side request
to an arbitrary host.

The store is shared by every project, so a key is readable by a project only when it is
- content-addressed (``images/<sha256>``): naming it takes knowing the image's hash, which
  takes having the image; or
- under the project's own upload prefix, ``projects/<project_id>/``.
Anything else (another project's uploads, manifests listed by prefix...) answers as if it
did not exist to this project.

Probes (images sent only to be searched, detected, compared or checked for liveness) go
under ``probes/<request nonce>/<sha256>`` instead: a key of their own, so the worker can
delete it once the job's result is stored without ever touching an enrolled image, another
request's probe or another project's object that happens to hold the same bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import uuid
from typing import IO, Any, Protocol

from flask import g, has_request_context, request

from api import probes
from api.errors import ApiError, ApiErrorCode
from core.probes import NAMED_PROBE_PREFIX, PROBE_PREFIX
from infra.object_store import validate_key

DATA_URL_PREFIX = re.compile(r"^data:[\w.+-]+/[\w.+-]+(;[\w=.+-]+)*;base64,", re.IGNORECASE)
CONTENT_ADDRESSED_KEY = re.compile(r"^images/[0-9a-f]{64}$")
IDEMPOTENCY_HEADER = "Idempotency-Key"
_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"BM", 0, "image/bmp"),
    (b"GIF8", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),
    (b"II*\x00", 0, "image/tiff"),
    (b"MM\x00*", 0, "image/tiff"),
)


class ObjectStoreLike(Protocol):
    def put(self, data: bytes, content_type: str, prefix: str = ...) -> str: ...

    def exists(self, key: str) -> bool: ...


def sniff_content_type(data: bytes) -> str:
    """Content type from magic bytes, for the stored object's metadata only: the worker
    decodes and rejects what is not an image, whatever the client claimed."""
    for magic, offset, content_type in _MAGIC:
        if data[offset : offset + len(magic)] == magic:
            return content_type
    return "application/octet-stream"


def read_limited(stream: IO[bytes], max_bytes: int, what: str = "the image") -> bytes:
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ApiError(ApiErrorCode.IMAGE_TOO_LARGE, f"{what} is larger than {max_bytes} bytes")
    return data


def decode_base64_image(text: str, max_bytes: int, field: str = "image_base64") -> bytes:
    text = DATA_URL_PREFIX.sub("", text.strip(), count=1)
    text = "".join(text.split())  # line-wrapped base64 (MIME style) is common
    # Checked before decoding: the decoded size is at most 3/4 of the text.
    if len(text) > (max_bytes + 2) // 3 * 4 + 4:
        raise ApiError(ApiErrorCode.IMAGE_TOO_LARGE, f"{field} decodes to more than {max_bytes} bytes")
    if not text:
        raise ApiError(ApiErrorCode.INVALID_BASE64, f"{field} is empty")
    if "-" in text or "_" in text:
        text = text.replace("-", "+").replace("_", "/")  # URL-safe alphabet
    text += "=" * (-len(text) % 4)
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as bad:
        raise ApiError(ApiErrorCode.INVALID_BASE64, f"{field} is not valid base64") from bad
    if not data:
        raise ApiError(ApiErrorCode.INVALID_BASE64, f"{field} is empty")
    if len(data) > max_bytes:
        raise ApiError(ApiErrorCode.IMAGE_TOO_LARGE, f"{field} decodes to more than {max_bytes} bytes")
    return data


def object_key_from_url(url: str, bucket: str, field: str = "image_url") -> str:
    """The key named by ``/bucket/key``; anything else (another bucket, a scheme, a host,
    dot segments) is refused."""
    if not url.startswith("/") or url.startswith("//"):
        raise ApiError(ApiErrorCode.IMAGE_URL_REFUSED, f"{field} must have the form /{bucket}/<key>")
    named_bucket, _, key = url[1:].partition("/")
    if named_bucket != bucket:
        raise ApiError(ApiErrorCode.IMAGE_URL_REFUSED, f"{field} must name the bucket {bucket!r}")
    if not is_safe_object_key(key):
        raise ApiError(ApiErrorCode.IMAGE_URL_REFUSED, f"{field} names an invalid object key")
    return key


def is_safe_object_key(key: str) -> bool:
    """The object store's own key rule: no empty, dot or dot-dot segments, no odd bytes."""
    try:
        validate_key(key)
    except ValueError:
        return False
    return True


def project_upload_prefix(project_id: str) -> str:
    return f"projects/{project_id}/"


def is_readable_by(key: str, project_id: str | None) -> bool:
    if not is_safe_object_key(key):
        return False
    if CONTENT_ADDRESSED_KEY.fullmatch(key):
        return True
    return project_id is not None and key.startswith(project_upload_prefix(project_id))


def request_project_id() -> str | None:
    """The authenticated project of the current request, when there is one."""
    if not has_request_context():
        return None
    project_id = g.get("project_id")
    return str(project_id) if project_id is not None else None


def probe_prefix(named: bool = False) -> str:
    """This request's probe prefix. With an Idempotency-Key it is derived from it (scoped
    to the project), so a retried request builds the same job payload and finds its job.
    A ``named`` probe is one a token may name after its job (``core.probes``)."""
    key = request.headers.get(IDEMPOTENCY_HEADER) if has_request_context() else None
    if key:
        nonce = hashlib.sha256(f"{request_project_id()}\0{key}".encode()).hexdigest()[:32]
    else:
        nonce = uuid.uuid4().hex
    return f"{NAMED_PROBE_PREFIX if named else PROBE_PREFIX}{nonce}"


class ImageIntake:
    """Turns the image fields of a validated request model into one stored object key."""

    def __init__(self, store: ObjectStoreLike, bucket: str, max_bytes: int, probe_max_bytes: int = 0) -> None:
        self.store = store
        self.bucket = bucket
        self.max_bytes = max_bytes
        self.probe_max_bytes = probe_max_bytes

    def probe_key_of(self, model: Any, prefix: str = "image", required: bool = True) -> str | None:
        """Like ``key_of`` for an image one sync job reads once: a small upload is held for
        the request, not stored, and travels with its job (``api.probes``)."""
        return self.key_of(model, prefix, required, probe=True)

    def key_of(
        self, model: Any, prefix: str = "image", required: bool = True, probe: bool = False
    ) -> str | None:
        upload = getattr(model, f"{prefix}_file", None)
        text = getattr(model, f"{prefix}_base64", None)
        url = getattr(model, f"{prefix}_url", None)
        given = [value for value in (upload, text, url) if value is not None]
        if len(given) != 1:
            if not given and not required:
                return None
            raise ApiError(
                ApiErrorCode.IMAGE_SOURCE,
                f"give exactly one of {prefix}_file, {prefix}_base64 and {prefix}_url",
            )
        if upload is not None:
            return self.put(read_limited(upload.stream, self.max_bytes, f"{prefix}_file"), probe)
        if text is not None:
            return self.put(decode_base64_image(text, self.max_bytes, f"{prefix}_base64"), probe)
        return self.existing(str(url), f"{prefix}_url")

    def put(self, data: bytes, probe: bool = False, named: bool = False) -> str:
        """Store an image: an enrollment's under its content hash, a probe under its
        request's own key, held for the request when small enough. A ``named`` probe, one a
        token names after its job, is always stored: the token outlives the request."""
        if not data:
            raise ApiError(ApiErrorCode.INVALID_IMAGE, "the image is empty")
        if not probe and not named:
            return self.store.put(data, sniff_content_type(data))
        # A probe's key is its request's own, held or stored: see the module's docstring.
        store_prefix = probe_prefix(named)
        if not named and probes.can_hold(len(data), self.probe_max_bytes):
            return probes.hold(data, sniff_content_type(data), store_prefix)
        content_type = sniff_content_type(data)
        key = self.store.put(data, content_type, prefix=store_prefix)
        probes.remember(key, data, content_type)
        return key

    def existing(self, url: str, field: str = "image_url", project_id: str | None = None) -> str:
        key = object_key_from_url(url, self.bucket, field)
        if not is_readable_by(key, project_id or request_project_id()) or not self.store.exists(key):
            raise ApiError(ApiErrorCode.IMAGE_URL_NOT_FOUND, f"{field} names no stored object")
        return key
