"""Batch enrollment intake: many images in, one manifest out, nothing held in memory.

Three request forms:
- multipart with repeated ``image_file`` parts (and/or one ``archive`` zip part): the
  body is split as a stream (``api.multipart.split_parts``), and each image is put into
  the object store as soon as its part ends, so the API holds one image at a time;
- a zip archive (``archive`` part or an ``application/zip`` body), spooled to a temporary
  file on disk (a zip's directory is at its end) and read member by member;
- JSON naming objects already in the store: ``image_keys`` or a ``prefix``.

Image puts overlap: up to ``UPLOADERS`` are in flight while the body is still being read
(one after the other, each upload waited out a store round trip), so the API holds at most
that many images more. ``manifest`` waits for them, and leaving the intake (``with``) on an
error waits for those already sent.

Each input becomes a ``BatchItem`` in a JSON manifest stored in the object store. An input
the API can already refuse (oversize, empty, not a file) keeps its place in the manifest
with a ``rejected`` code, so the job's per-item report covers every input.
"""

from __future__ import annotations

import re
import tempfile
import zipfile
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from types import TracebackType
from typing import IO, Any, Self

from werkzeug.sansio.multipart import Field, File

from api.errors import ApiError, ApiErrorCode
from api.fields import validate_values
from api.images import (
    ObjectStoreLike,
    is_readable_by,
    is_safe_object_key,
    project_upload_prefix,
    sniff_content_type,
)
from api.multipart import FormTooLarge, UnfinishedBody, split_parts
from api.schemas import EXTERNAL_IMAGE_ID_PATTERN, USER_ID_PATTERN, BatchItemMeta
from api.services import new_external_image_id
from core.errors import ErrorCode
from core.payloads import BatchItem
from infra import batch_manifest

CHUNK_BYTES = 256 * 1024
MAX_FIELD_BYTES = 16 * 1024 * 1024  # form fields such as ``items`` (per-item metadata)
IMAGE_PARTS = ("image_file", "images", "file")
ARCHIVE_PART = "archive"
UPLOADERS = 4
_EXTERNAL_ID = re.compile(EXTERNAL_IMAGE_ID_PATTERN)
_USER_ID = re.compile(USER_ID_PATTERN)


@dataclass
class _Entry:
    source: str
    image_key: str | None = None
    rejected: str | None = None
    message: str | None = None


@dataclass
class BatchIntake:
    store: ObjectStoreLike
    max_image_bytes: int
    max_items: int
    project_id: str | None = None
    entries: list[_Entry] = field(default_factory=list)
    _uploads: ThreadPoolExecutor | None = None
    _in_flight: deque[tuple[_Entry, Future[str]]] = field(default_factory=deque)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._uploads is not None:
            self._uploads.shutdown(wait=True, cancel_futures=True)
            self._uploads = None

    # ------------------------------------------------------------------ sources

    def add_image(self, source: str, data: bytes | None) -> None:
        """``data`` None means the input was over the size limit."""
        self._check_count()
        if data is None:
            self.entries.append(_Entry(source, rejected=ErrorCode.IMAGE_TOO_LARGE.value))
        elif not data:
            self.entries.append(_Entry(source, rejected=ErrorCode.INVALID_IMAGE.value))
        else:
            entry = _Entry(source)
            self.entries.append(entry)
            self._put(entry, data)

    def _put(self, entry: _Entry, data: bytes) -> None:
        if self._uploads is None:
            self._uploads = ThreadPoolExecutor(UPLOADERS, thread_name_prefix="batch-upload")
        while len(self._in_flight) >= UPLOADERS:
            self._settle_oldest()
        self._in_flight.append((entry, self._uploads.submit(self.store.put, data, sniff_content_type(data))))

    def _settle_oldest(self) -> None:
        entry, upload = self._in_flight.popleft()
        entry.image_key = upload.result()  # the store's failure is the request's, as before

    def add_key(self, key: str) -> None:
        self._check_count()
        if not is_safe_object_key(key):
            self.entries.append(_Entry(key[:200], rejected=ErrorCode.INVALID_ARGUMENT.value))
        elif not is_readable_by(key, self.project_id):
            # Another project's object reads exactly like a missing one.
            self.entries.append(_Entry(key, rejected=ErrorCode.INVALID_IMAGE.value))
        else:
            self.entries.append(_Entry(key, image_key=key))

    def read_multipart(self, stream: IO[bytes], boundary: bytes) -> dict[str, str]:
        """Store every image part; returns the (small) non-file fields."""
        parts = _BatchParts(self)
        try:
            split_parts(stream, boundary, parts, max_parts=self.max_items + 64, read_size=CHUNK_BYTES)
        except UnfinishedBody as cut:
            raise ApiError(ApiErrorCode.INVALID_BATCH, "the multipart body ended before its closing boundary") from cut
        except ValueError as malformed:  # a part's headers cut off, say: the client's error, not a 500
            raise ApiError(
                ApiErrorCode.INVALID_BATCH, "the multipart body is malformed: a part's headers cannot be parsed"
            ) from malformed
        return parts.fields

    def read_zip(self, archive: IO[bytes]) -> None:
        try:
            with zipfile.ZipFile(archive) as zipped:
                for member in zipped.infolist():
                    unsafe = _unsafe_member_name(member.filename)
                    if unsafe is not None:  # reported, never read: the name is the attack
                        self._check_count()
                        self.entries.append(_Entry(member.filename, rejected=ErrorCode.INVALID_ARGUMENT.value, message=unsafe))
                    elif not member.is_dir() and not _is_hidden(member.filename):
                        self.add_image(member.filename, self._member_bytes(zipped, member))
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as bad:
            raise ApiError(ApiErrorCode.INVALID_BATCH, f"the archive is not a readable zip file: {bad}") from bad

    def _member_bytes(self, zipped: zipfile.ZipFile, member: zipfile.ZipInfo) -> bytes | None:
        if member.file_size > self.max_image_bytes:
            return None
        try:
            with zipped.open(member) as opened:
                data = opened.read(self.max_image_bytes + 1)  # never trust the header's size
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError, ValueError, EOFError):
            return b""  # encrypted, corrupt or an unsupported compression: reported as invalid
        return None if len(data) > self.max_image_bytes else data

    def _check_count(self) -> None:
        if len(self.entries) >= self.max_items:
            raise ApiError(ApiErrorCode.INVALID_BATCH, f"a batch holds at most {self.max_items} images")

    # ------------------------------------------------------------------ manifest

    def manifest(
        self,
        schema: dict[str, Any],
        common_fields: dict[str, Any],
        items: list[BatchItemMeta],
        user_id_from: str,
    ) -> list[BatchItem]:
        while self._in_flight:
            self._settle_oldest()
        if not self.entries:
            raise ApiError(ApiErrorCode.INVALID_BATCH, "the batch names no image")
        common = validate_values(schema, common_fields)
        meta = {item.source: item for item in items}
        stems = Counter(PurePosixPath(entry.source).stem for entry in self.entries)
        return [
            self._item(index, entry, schema, common, meta.get(entry.source), user_id_from, stems)
            for index, entry in enumerate(self.entries)
        ]

    def _item(
        self,
        index: int,
        entry: _Entry,
        schema: dict[str, Any],
        common: dict[str, Any],
        meta: BatchItemMeta | None,
        user_id_from: str,
        stems: Counter[str],
    ) -> BatchItem:
        stem = PurePosixPath(entry.source).stem
        # Derived, not random: the same upload builds the same manifest, so a retry with
        # the same Idempotency-Key finds its first job.
        generated = new_external_image_id(f"{index}\0{entry.source}\0{entry.image_key or entry.rejected}")
        if not _EXTERNAL_ID.fullmatch(stem):
            derived = generated
        elif stems[stem] > 1:
            # a/aligned_1.jpg and b/aligned_1.jpg must not share an id: the stem, told apart.
            derived = f"{stem[:27]}_{generated}"
        else:
            derived = stem
        external_image_id = (meta.external_image_id if meta else None) or derived
        user_id = meta.user_id if meta and meta.user_id else _derived_user_id(entry.source, user_id_from)
        rejected = entry.rejected
        fields = dict(common)
        if meta and meta.external_fields:
            try:
                fields.update(validate_values(schema, meta.external_fields))
            except ApiError:
                rejected = rejected or ErrorCode.INVALID_ARGUMENT.value
        return BatchItem(
            image_key=None if rejected else entry.image_key,
            external_image_id=external_image_id,
            user_id=user_id,
            external_fields=fields,
            source=entry.source[:1024],
            rejected=rejected,
            rejected_message=entry.message if rejected == entry.rejected else None,
        )

    def store_manifest(self, items: list[BatchItem]) -> str:
        return batch_manifest.store_manifest(self.store, items)


def iter_prefix(store: Any, prefix: str, project_id: str) -> Iterator[str]:
    """Keys under ``prefix``, which must lie in the project's own upload area: listing
    the shared content-addressed area would enumerate every project's images."""
    own = project_upload_prefix(project_id)
    if not is_safe_object_key(prefix.rstrip("/") or "x") or not (prefix.rstrip("/") + "/").startswith(own):
        raise ApiError(ApiErrorCode.INVALID_BATCH, f"prefix must be a valid object key prefix under {own}")
    yield from store.list_keys(prefix.rstrip("/"))


def _derived_user_id(source: str, user_id_from: str) -> str | None:
    path = PurePosixPath(source)
    if user_id_from == "folder" and len(path.parts) > 1:
        candidate = path.parent.name
    elif user_id_from == "filename":
        candidate = path.stem
    else:
        return None
    return candidate if _USER_ID.fullmatch(candidate) else None


def _is_hidden(name: str) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in PurePosixPath(name).parts)


class _BatchParts:
    """A batch body's parts as they arrive: an image part is held until it ends, then goes to
    the store (one image in memory at a time, or flagged oversize and dropped as it grows); the
    archive part is spooled to disk; text fields are kept."""

    def __init__(self, intake: BatchIntake) -> None:
        self.intake = intake
        self.fields: dict[str, str] = {}
        self._part: Field | File | None = None
        self._buffer = bytearray()
        self._oversize = False
        self._spool: IO[bytes] | None = None

    def begin(self, part: Field | File) -> None:
        self._part, self._oversize = part, False
        self._buffer.clear()
        if isinstance(part, File) and part.name == ARCHIVE_PART:
            self._spool = tempfile.TemporaryFile()  # noqa: SIM115  # closed when its part ends

    def data(self, piece: bytes) -> None:
        if self._spool is not None:
            self._spool.write(piece)
        elif isinstance(self._part, File):
            if self._oversize or len(self._buffer) + len(piece) > self.intake.max_image_bytes:
                self._oversize = True
                self._buffer.clear()
            else:
                self._buffer.extend(piece)
        elif len(self._buffer) + len(piece) > MAX_FIELD_BYTES:
            raise FormTooLarge(MAX_FIELD_BYTES)
        else:
            self._buffer.extend(piece)

    def end(self) -> None:
        part, spool = self._part, self._spool
        self._part, self._spool = None, None
        if part is None:
            return
        if isinstance(part, Field):
            self.fields[part.name] = bytes(self._buffer).decode("utf-8", "replace")
        elif spool is not None:
            with spool:
                spool.seek(0)
                self.intake.read_zip(spool)
        elif part.name in IMAGE_PARTS:
            source = part.filename or f"part-{len(self.intake.entries)}"
            self.intake.add_image(source, None if self._oversize else bytes(self._buffer))
        else:
            raise ApiError(ApiErrorCode.INVALID_BATCH, f"unexpected file part {part.name[:40]!r}")
        self._buffer.clear()


def _unsafe_member_name(name: str) -> str | None:
    """Why a zip member's name is refused (a path that climbs out or is absolute), or None."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name):
        return "the archive member's name is an absolute path"
    if ".." in parts:
        return "the archive member's name climbs out of the archive (..)"
    if "\x00" in name or not name.isprintable():
        return "the archive member's name holds control characters"
    return None
