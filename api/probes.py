"""Small interactive probes travel with their job instead of through the object store.

A sync detect, compare, embed or search reads its image once and forgets it. Storing it
costs the API a write and the worker a read, two round trips on the path a person waits
on (docs/BENCHMARKS.md, "Sync latency"). So an upload or base64 image of at most
``api.inline_probe_max_bytes`` given to one of those endpoints is only *held* for the
request, under the key it would have had (its request's own ``probes/`` key, api.images); when its job is sent synchronously, the
bytes ride in the task message (never in the job row, which keeps keys only). Anything else
is written to the store as before: larger images, async calls (a 202's job may be re-sent
from its row later, when the request is long gone) and jobs of other kinds. Enrolled
images never take this path, so the store's enrolled-image keys are untouched.

The one cost: a sync job whose message is lost (the embedded SQL transport loses an
in-flight message on kill -9) and that housekeeping re-sends from its row finds no image
and fails with ``invalid_image``; its caller had already been answered 202 long before.
"""

from __future__ import annotations

from typing import Any, Protocol

from flask import g, has_request_context

from infra.object_store import DEFAULT_PREFIX, content_key

_HELD = "facefleet_held_probes"
_STORED = "facefleet_stored_probes"
# Fields of a job payload that name an image the worker reads.
IMAGE_KEY_FIELDS = ("image_key", "image1_key", "image2_key")


class ProbeStore(Protocol):
    def put(self, data: bytes, content_type: str, prefix: str = ...) -> str: ...


def hold(data: bytes, content_type: str, prefix: str = DEFAULT_PREFIX) -> str:
    """Keep ``data`` for this request under its content key; nothing is written yet."""
    key = content_key(data, prefix)
    _held()[key] = (data, content_type)
    return key


def can_hold(size: int, max_bytes: int) -> bool:
    return has_request_context() and 0 < size <= max_bytes


def inline_images(body: dict[str, Any]) -> dict[str, bytes]:
    """The held images ``body`` names, as bytes for the (msgpack) task message."""
    if not has_request_context():
        return {}
    held = _held()
    keys = {body[field] for field in IMAGE_KEY_FIELDS if isinstance(body.get(field), str)}
    return {key: held[key][0] for key in keys if key in held}


def store_held(store: ProbeStore, body: dict[str, Any]) -> None:
    """Write the held images ``body`` names: its job will read them from the store."""
    if not has_request_context():
        return
    held = _held()
    for field in IMAGE_KEY_FIELDS:
        key = body.get(field)
        if isinstance(key, str) and key in held:
            data, content_type = held.pop(key)
            store.put(data, content_type, prefix=key.rsplit("/", 1)[0])


def remember(key: str, data: bytes, content_type: str) -> None:
    """Keep the bytes of a probe stored for this request: a job that failed deletes its
    probe, and a second job of the same request (a fallback) may need it again."""
    if has_request_context():
        _stored()[key] = (data, content_type)


def store_again(store: ProbeStore, key: str) -> None:
    """Put a probe this request stored back under its own key, in case a finished job of
    the request deleted it; a held probe needs nothing (it travels with each job)."""
    stored = _stored().get(key) if has_request_context() else None
    if stored is not None:
        data, content_type = stored
        store.put(data, content_type, prefix=key.rsplit("/", 1)[0])


def _stored() -> dict[str, tuple[bytes, str]]:
    return _request_probes(_STORED)


def _held() -> dict[str, tuple[bytes, str]]:
    return _request_probes(_HELD)


def _request_probes(name: str) -> dict[str, tuple[bytes, str]]:
    """This request's probe bytes by key, kept on ``flask.g`` under ``name``."""
    probes: dict[str, tuple[bytes, str]] | None = g.get(name)
    if probes is None:
        probes = {}
        setattr(g, name, probes)
    return probes
