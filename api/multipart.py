"""Multipart request bodies split by python-multipart; everything around the split stays
werkzeug's.

Why: werkzeug's ``MultipartDecoder`` compiles two regular expressions from each request's
boundary (about 0.7 ms of CPU: clients draw a new boundary per request, so ``re``'s cache
never hits), scans the body in Python-sized steps, and writes a file part of a body over
500 KB to a temporary file that the route then reads back. A sync search of a 0.5 MB photo
paid ~2 ms of API CPU for this before its job row existed. python-multipart (Starlette's
parser) finds boundaries with ``bytes.find``, and a file part here stays in memory up to
``max_form_memory_size`` (the size a text field may already take) and spills to the
request's stream factory, on disk, beyond it: a 100 MB upload still lands on disk.
Measured in docs/BENCHMARKS.md, "Fourteenth pass".

Kept from werkzeug, so routes see the same ``request.form`` and ``request.files``: the
limited input stream (``MAX_CONTENT_LENGTH``), part headers and ``Content-Disposition``
parsed by werkzeug, a text part's charset, ``MultiDict`` and ``FileStorage``, and the
limits: a text part over ``max_form_memory_size`` or more than ``max_form_parts`` parts
raise ``RequestEntityTooLarge``. A malformed body (no boundary, a part without
``Content-Disposition``, a body cut off before its closing boundary) parses as an empty
form, as werkzeug's silent parser does, so the route names the missing field; text before
the first boundary (a preamble) is skipped, as werkzeug skips it.

The batch endpoint streams its own parts (``api.batch``) and keeps werkzeug's decoder.
"""

from __future__ import annotations

import io
import logging
from typing import IO

from flask import Request
from python_multipart.multipart import MultipartParser
from werkzeug.datastructures import FileStorage, Headers, MultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser, MultiPartParser
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import File

READ_SIZE = 64 * 1024

# python-multipart logs a warning for each malformed body before it raises; the client gets
# its error and the logs need not carry one line per bad request a client chooses to send.
logging.getLogger("python_multipart").setLevel(logging.ERROR)
# What FormDataParser.parse returns (werkzeug names it only while type checking).
Parsed = tuple[IO[bytes], MultiDict[str, str], MultiDict[str, FileStorage]]


class TooManyParts(RequestEntityTooLarge):
    """More parts than ``max_form_parts``: the 413 that names the part count."""


class FormTooLarge(RequestEntityTooLarge):
    """A text part over ``max_form_memory_size``: the 413 that names the field limit."""


class FastFormDataParser(FormDataParser):
    """werkzeug's form parser, with multipart bodies split by python-multipart."""

    def parse(
        self, stream: IO[bytes], mimetype: str, content_length: int | None, options: dict[str, str] | None = None
    ) -> Parsed:
        if mimetype != "multipart/form-data":
            return super().parse(stream, mimetype, content_length, options)
        try:
            reader = _PartsReader(self, (options or {}).get("boundary", "").encode("ascii"), content_length)
            reader.read(stream)
        except ValueError:  # python-multipart's parse errors are ValueErrors, as werkzeug's are
            if not self.silent:
                raise
            return stream, self.cls(), self.cls()
        return stream, self.cls(reader.fields), self.cls(reader.files)


class FastFormRequest(Request):
    """Flask's request, its multipart bodies parsed by ``FastFormDataParser``."""

    form_data_parser_class = FastFormDataParser


class _PartsReader:
    """The callbacks python-multipart calls while it splits one body, building werkzeug's
    fields and files."""

    def __init__(self, owner: FormDataParser, boundary: bytes, content_length: int | None) -> None:
        if not boundary:
            raise ValueError("Missing boundary")
        self.owner = owner
        self.content_length = content_length
        self.fields: list[tuple[str, str]] = []
        self.files: list[tuple[str, FileStorage]] = []
        self._werkzeug = MultiPartParser(stream_factory=owner.stream_factory)
        self._header_lines: list[tuple[str, str]] = []
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._first_boundary = b"--" + boundary
        self._preamble_left = True
        self._parts = 0
        self._ended = False
        self._part: File | None = None  # werkzeug's description of the part being read
        self._chunks: list[bytes] = []  # its data while it is held in memory
        self._size = 0
        self._spilled: IO[bytes] | None = None  # a file part's container once it spilled
        self._parser = MultipartParser(
            boundary,
            {
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
                "on_end": self._on_end,
            },
        )

    def read(self, stream: IO[bytes]) -> None:
        preamble = b""  # RFC 2046 lets a body open with text before its first boundary
        while chunk := stream.read(READ_SIZE):
            if self._preamble_left:
                preamble += chunk
                at = preamble.find(self._first_boundary)
                if at < 0:  # keep a tail that may hold the boundary's start
                    preamble = preamble[-len(self._first_boundary) :]
                    continue
                chunk, preamble, self._preamble_left = preamble[at:], b"", False
            self._parser.write(chunk)
        self._parser.finalize()
        if not self._ended:
            raise ValueError("the multipart body ended before its closing boundary")

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        # Decoded as werkzeug decodes part headers: UTF-8, or the body is malformed.
        name, value = self._header_name.decode(), self._header_value.decode()
        self._header_lines.append((name.strip(" \t"), value.strip(" \t")))
        self._header_name.clear()
        self._header_value.clear()

    def _on_headers_finished(self) -> None:
        headers = Headers(self._header_lines)
        self._header_lines = []
        self._parts += 1
        if self.owner.max_form_parts is not None and self._parts > self.owner.max_form_parts:
            raise TooManyParts()
        if "content-disposition" not in headers:
            raise ValueError("Missing Content-Disposition header")
        _, extra = parse_options_header(headers["content-disposition"])
        # werkzeug's own event, so its stream factory and charset rules read it unchanged.
        self._part = File(name=extra.get("name"), filename=extra.get("filename"), headers=headers)  # type: ignore[arg-type]
        self._chunks, self._size, self._spilled = [], 0, None

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._spilled is not None:
            self._spilled.write(memoryview(data)[start:end])
            return
        self._size += end - start
        self._chunks.append(data[start:end])
        limit = self.owner.max_form_memory_size
        if limit is not None and self._size <= limit:
            return
        part = self._part
        if part is None or part.filename is None:  # a text part
            if limit is not None:
                raise FormTooLarge()
            return
        # A file part past the in-memory size (or with none set): on to the stream factory.
        self._spilled = self._werkzeug.start_file_streaming(part, self.content_length)
        for held in self._chunks:
            self._spilled.write(held)
        self._chunks = []

    def _on_part_end(self) -> None:
        part = self._part
        if part is None:
            return
        if part.filename is None:
            charset = self._werkzeug.get_part_charset(part.headers)
            self.fields.append((part.name, b"".join(self._chunks).decode(charset, "replace")))
        else:
            container = self._spilled or io.BytesIO(b"".join(self._chunks))
            container.seek(0)
            self.files.append((part.name, FileStorage(container, part.filename, part.name, headers=part.headers)))
        self._part, self._chunks, self._spilled = None, [], None

    def _on_end(self) -> None:
        self._ended = True
