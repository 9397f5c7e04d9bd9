"""Object store on a local directory, for the embedded mode.

Writes are atomic (temp file in the same file system, fsync, ``os.replace``), so a reader
or a crash never sees half an object, and several processes can share the directory.
Keys are validated and every resolved path is checked to stay under the root.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from infra.object_store.base import (
    DEFAULT_PREFIX,
    ObjectNotFound,
    ObjectStoreUnavailable,
    content_key,
    validate_key,
    validate_prefix,
)

CHUNK_BYTES = 1024 * 1024
# Starts with a dot, so no valid key can name it.
TEMP_DIR = ".tmp"
# Errors that mean "the disk is not usable right now" rather than "this call is wrong".
_TRANSIENT_ERRNOS = {errno.EIO, errno.ENOSPC, errno.EAGAIN, errno.EBUSY, errno.ESTALE, errno.EDQUOT}


class LocalObjectStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / TEMP_DIR).mkdir(exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / validate_key(key)).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"invalid object key: {key!r}")
        return path

    def put(self, data: bytes, content_type: str, prefix: str = DEFAULT_PREFIX) -> str:
        key = content_key(data, prefix)
        path = self._path(key)
        if not path.exists():
            with _os_errors():
                self._write_atomically(path, [data])
        return key

    def put_stream(self, stream: BinaryIO, content_type: str, prefix: str = DEFAULT_PREFIX) -> str:
        prefix = validate_prefix(prefix)
        digest = hashlib.sha256()
        with _os_errors():
            handle, temp_name = tempfile.mkstemp(dir=self.root / TEMP_DIR)
            try:
                with os.fdopen(handle, "wb") as temp:
                    while chunk := stream.read(CHUNK_BYTES):
                        digest.update(chunk)
                        temp.write(chunk)
                    temp.flush()
                    os.fsync(temp.fileno())
                key = f"{prefix}/{digest.hexdigest()}"
                path = self._path(key)
                path.parent.mkdir(parents=True, exist_ok=True)
                os.replace(temp_name, path)
            except BaseException:
                Path(temp_name).unlink(missing_ok=True)
                raise
        return key

    def _write_atomically(self, path: Path, chunks: list[bytes]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(dir=self.root / TEMP_DIR)
        try:
            with os.fdopen(handle, "wb") as temp:
                for chunk in chunks:
                    temp.write(chunk)
                temp.flush()
                os.fsync(temp.fileno())
            os.replace(temp_name, path)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as missing:
            raise ObjectNotFound(key) from missing
        except OSError as error:
            raise _classify(error) from error

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink(missing_ok=True)
        except IsADirectoryError:
            return
        except OSError as error:
            raise _classify(error) from error
        self._prune_empty_folders(path.parent)

    def _prune_empty_folders(self, folder: Path) -> None:
        """Remove folders a delete left empty (``probes/<request>/``), never a top-level
        one (``images/``): a concurrent put may be about to write there."""
        while folder.parent != self.root and self.root in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                return  # not empty (or already gone): nothing more to prune
            folder = folder.parent

    def list_keys(self, prefix: str) -> Iterator[str]:
        for key, _ in self.list_with_times(prefix):
            yield key

    def list_with_times(self, prefix: str) -> Iterator[tuple[str, datetime]]:
        base = self.root / validate_prefix(prefix)
        if not base.is_dir():
            return
        for directory, subdirs, files in os.walk(base):
            subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
            for name in sorted(files):
                path = Path(directory) / name
                key = path.relative_to(self.root).as_posix()
                try:
                    validate_key(key)
                    modified = path.stat().st_mtime
                except (ValueError, FileNotFoundError):
                    continue  # not one of ours, or deleted while listing
                yield key, datetime.fromtimestamp(modified, UTC)

    def presigned_url(self, key: str, expires_seconds: int = 3600) -> str:
        """A ``file://`` URL: the embedded mode has no object server, and whoever can read
        the URL can read the data directory anyway."""
        path = self._path(key)
        if not path.is_file():
            raise ObjectNotFound(key)
        return path.as_uri()

    def clear(self) -> None:
        """Remove every object (tests and ``facefleet reset``)."""
        for child in self.root.iterdir():
            if child.name != TEMP_DIR:
                shutil.rmtree(child) if child.is_dir() else child.unlink()


def _classify(error: OSError) -> Exception:
    if error.errno in _TRANSIENT_ERRNOS:
        return ObjectStoreUnavailable(f"local disk error: {error}")
    return error


class _os_errors:
    """Context manager mapping transient disk errors to ``ObjectStoreUnavailable``."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, OSError) and exc.errno in _TRANSIENT_ERRNOS:
            raise ObjectStoreUnavailable(f"local disk error: {exc}") from exc
