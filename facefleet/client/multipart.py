"""A multipart/form-data body that streams its files from disk.

``requests`` builds a multipart body in memory; for a batch of photos that is every photo at
once. This body knows its length up front (so it is sent with ``Content-Length``, no chunked
encoding) and reads each file in small blocks only while it is being sent. Iterating it again
(a retry) reopens the files.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

BLOCK_BYTES = 256 * 1024
FileSource = Path | bytes


class StreamingMultipart:
    def __init__(self, fields: Mapping[str, str], files: Sequence[tuple[str, str, FileSource]]) -> None:
        """``files`` are (form field, file name, path or bytes)."""
        self.boundary = uuid.uuid4().hex
        self.fields = dict(fields)
        self.files = list(files)
        self.content_type = f"multipart/form-data; boundary={self.boundary}"

    def _field_head(self, name: str) -> bytes:
        return f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()

    def _file_head(self, name: str, filename: str) -> bytes:
        safe = filename.replace('"', "_").replace("\r", "_").replace("\n", "_")
        return (
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{safe}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()

    def _tail(self) -> bytes:
        return f"--{self.boundary}--\r\n".encode()

    def __len__(self) -> int:
        total = sum(
            len(self._field_head(name)) + len(value.encode()) + 2 for name, value in self.fields.items()
        )
        for name, filename, source in self.files:
            size = source.stat().st_size if isinstance(source, Path) else len(source)
            total += len(self._file_head(name, filename)) + size + 2
        return total + len(self._tail())

    def __iter__(self) -> Iterator[bytes]:
        for name, value in self.fields.items():
            yield self._field_head(name) + value.encode() + b"\r\n"
        for name, filename, source in self.files:
            yield self._file_head(name, filename)
            if isinstance(source, Path):
                with source.open("rb") as handle:
                    yield from iter(lambda: handle.read(BLOCK_BYTES), b"")
            else:
                yield source
            yield b"\r\n"
        yield self._tail()
