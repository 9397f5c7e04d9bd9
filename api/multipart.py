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

The batch endpoint streams its parts through ``split_parts`` too (``api.batch``), each image
on to the object store as its part ends.
"""

from __future__ import annotations

import io
import logging
from typing import IO, Protocol

from flask import Request
from python_multipart import MultipartParser
from werkzeug.datastructures import FileStorage, Headers, MultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser, MultiPartParser
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Field, File

READ_SIZE = 64 * 1024

# python-multipart logs a warning for each malformed body before it raises; the client gets
# its error and the logs need not carry one line per bad request a client chooses to send.
logging.getLogger("python_multipart").setLevel(logging.ERROR)
# What FormDataParser.parse returns (werkzeug names it only while type checking).
Parsed = tuple[IO[bytes], MultiDict[str, str], MultiDict[str, FileStorage]]


class TooManyParts(RequestEntityTooLarge):
    """More parts than a body may have: the 413 that names the part count."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the multipart body has more than {limit} parts")
        self.limit = limit


class FormTooLarge(RequestEntityTooLarge):
    """A text part over its size limit: the 413 that names the field limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"a form field is larger than {limit} bytes (send images as file parts)")
        self.limit = limit


class UnfinishedBody(ValueError):
    """The body ended before its closing boundary."""


class _DelimiterAfterHeaders(Exception):  # a signal within _Splitter, never raised out of it
    """The part just begun is empty and ``rest`` (the body from there) opens with a delimiter."""

    def __init__(self, rest: bytes) -> None:
        super().__init__()
        self.rest = rest


class PartHandler(Protocol):
    """What ``split_parts`` tells, part by part: werkzeug's ``Field`` (a text part) or
    ``File`` with its headers, its data in pieces, its end."""

    def begin(self, part: Field | File) -> None: ...

    def data(self, piece: bytes) -> None: ...

    def end(self) -> None: ...


def split_parts(
    stream: IO[bytes], boundary: bytes, handler: PartHandler, max_parts: int | None, read_size: int = READ_SIZE
) -> None:
    """Read a multipart body from ``stream`` and tell ``handler`` of each part as it goes.

    Raises ``ValueError`` for a malformed body (``UnfinishedBody`` when it ends before its
    closing boundary) and ``TooManyParts`` past ``max_parts``; the handler's own errors
    pass through."""
    _Splitter(boundary, handler, max_parts).read(stream, read_size)


class FastFormDataParser(FormDataParser):
    """werkzeug's form parser, with multipart bodies split by python-multipart."""

    def parse(
        self, stream: IO[bytes], mimetype: str, content_length: int | None, options: dict[str, str] | None = None
    ) -> Parsed:
        if mimetype != "multipart/form-data":
            return super().parse(stream, mimetype, content_length, options)
        form = _FormBuilder(self, content_length)
        try:
            split_parts(stream, (options or {}).get("boundary", "").encode("ascii"), form, self.max_form_parts)
        except ValueError:  # a malformed body: an empty form, as werkzeug's silent parser gives
            if not self.silent:
                raise
            return stream, self.cls(), self.cls()
        return stream, self.cls(form.fields), self.cls(form.files)


class FastFormRequest(Request):
    """Flask's request, its multipart bodies parsed by ``FastFormDataParser``."""

    form_data_parser_class = FastFormDataParser


class _Splitter:
    """python-multipart's callbacks for one body: part headers gathered and parsed as
    werkzeug parses them, parts counted, the handler told."""

    def __init__(self, boundary: bytes, handler: PartHandler, max_parts: int | None) -> None:
        if not boundary:
            raise ValueError("Missing boundary")
        self.handler = handler
        self.max_parts = max_parts
        self._first_boundary = b"--" + boundary
        self._header_lines: list[tuple[str, str]] = []
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._parts = 0
        self._in_headers = False
        self._ended = False
        self._boundary = boundary
        self._chunk = b""  # what the parser is being given now
        self._probe: bytearray | None = None  # a part's first data, until it is known not to be a delimiter
        self._parser = self._new_parser()

    def _new_parser(self) -> MultipartParser:
        return MultipartParser(
            self._boundary,
            {
                "on_part_begin": self._on_part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
                "on_end": self._on_end,
            },
        )

    def read(self, stream: IO[bytes], read_size: int) -> None:
        in_preamble, preamble = True, b""  # RFC 2046 lets a body open with text before its first boundary
        while chunk := stream.read(read_size):
            if in_preamble:
                preamble += chunk
                at = preamble.find(self._first_boundary)
                if at < 0:  # keep a tail that may hold the boundary's start
                    preamble = preamble[-len(self._first_boundary) :]
                    continue
                chunk, preamble, in_preamble = preamble[at:], b"", False
            self._write(chunk)
        self._parser.finalize()
        if self._in_headers:
            raise ValueError("the multipart body ended inside a part's headers")
        if not self._ended:
            raise UnfinishedBody("the multipart body ended before its closing boundary")

    def _write(self, chunk: bytes) -> None:
        while not self._ended:
            self._chunk = chunk
            try:
                self._parser.write(chunk)
                return
            except _DelimiterAfterHeaders as found:
                # The part was empty and ``found.rest`` opens with the next delimiter: a
                # fresh parser starts from it (python-multipart expects a blank line first).
                self._on_part_end()
                if found.rest.startswith(self._first_boundary + b"--"):
                    self._ended = True  # it was the closing delimiter: the rest is epilogue
                    return
                self._parser, chunk = self._new_parser(), found.rest

    def _on_part_begin(self) -> None:
        self._in_headers = True

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
        self._header_lines, self._in_headers = [], False
        self._parts += 1
        if self.max_parts is not None and self._parts > self.max_parts:
            raise TooManyParts(self.max_parts)
        if "content-disposition" not in headers:
            raise ValueError("Missing Content-Disposition header")
        _, extra = parse_options_header(headers["content-disposition"])
        name, filename = extra.get("name"), extra.get("filename")
        # werkzeug's own events, so its stream factory and charset rules read them unchanged.
        if filename is None:
            self.handler.begin(Field(name=name, headers=headers))  # type: ignore[arg-type]  # werkzeug's own None
        else:
            self.handler.begin(File(name=name, filename=filename, headers=headers))  # type: ignore[arg-type]
        self._probe = bytearray()

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        """A part's data; its first bytes are held until they cannot be a delimiter.

        RFC 2046 lets an empty part end with its headers: ``headers CRLF`` and straight on
        to ``CRLF --boundary``, with no blank line (werkzeug's own encoder writes empty
        parts so). python-multipart takes that CRLF as the blank line and the delimiter
        after it as data, which would fold the next part into this one. A part whose data
        opens with ``--boundary`` is read as werkzeug reads it: empty, then a delimiter."""
        if self._probe is None:
            self.handler.data(data[start:end])
            return
        self._probe += data[start:end]
        wanted = self._first_boundary
        if len(self._probe) < len(wanted) and wanted.startswith(self._probe):
            return  # too short to tell yet
        probe, self._probe = bytes(self._probe), None
        if not probe.startswith(wanted):
            self.handler.data(probe)
            return
        if data is not self._chunk:  # cannot happen: a delimiter's bytes come from the body itself
            raise ValueError("a part's data opens with a delimiter the parser did not see")
        raise _DelimiterAfterHeaders(probe + data[end:])

    def _on_part_end(self) -> None:
        if self._probe:  # a part shorter than a delimiter
            self.handler.data(bytes(self._probe))
        self._probe = None
        self.handler.end()

    def _on_end(self) -> None:
        self._ended = True


class _FormBuilder:
    """``request.form`` and ``request.files`` from the parts, with werkzeug's limits: a text
    part over ``max_form_memory_size`` is a 413; a file part past it spills to the stream
    factory."""

    def __init__(self, owner: FormDataParser, content_length: int | None) -> None:
        self.owner = owner
        self.content_length = content_length
        self.fields: list[tuple[str, str]] = []
        self.files: list[tuple[str, FileStorage]] = []
        self._werkzeug = MultiPartParser(stream_factory=owner.stream_factory)
        self._part: Field | File | None = None
        self._chunks: list[bytes] = []  # the part's data while it is held in memory
        self._size = 0
        self._spilled: IO[bytes] | None = None  # a file part's container once it spilled

    def begin(self, part: Field | File) -> None:
        self._part, self._chunks, self._size, self._spilled = part, [], 0, None

    def data(self, piece: bytes) -> None:
        if self._spilled is not None:
            self._spilled.write(piece)
            return
        self._size += len(piece)
        self._chunks.append(piece)
        limit = self.owner.max_form_memory_size
        if limit is not None and self._size <= limit:
            return
        part = self._part
        if not isinstance(part, File):  # a text part
            if limit is not None:
                raise FormTooLarge(limit)
            return
        # A file part past the in-memory size (or with none set): on to the stream factory.
        self._spilled = self._werkzeug.start_file_streaming(part, self.content_length)
        for held in self._chunks:
            self._spilled.write(held)
        self._chunks = []

    def end(self) -> None:
        part = self._part
        if part is None:
            return
        if isinstance(part, File):
            container = self._spilled or io.BytesIO(b"".join(self._chunks))
            container.seek(0)
            self.files.append((part.name, FileStorage(container, part.filename, part.name, headers=part.headers)))
        else:
            charset = self._werkzeug.get_part_charset(part.headers)
            self.fields.append((part.name, b"".join(self._chunks).decode(charset, "replace")))
        self._part, self._chunks, self._spilled = None, [], None
