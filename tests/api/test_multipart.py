"""api.multipart: bodies split by python-multipart give the form and files werkzeug's own
parser gives, with werkzeug's limits (pure logic: no stack).

Bodies are encoded by urllib3 (the encoder under requests, as real clients send them) and by
werkzeug's test client."""

from __future__ import annotations

import io
from typing import IO, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from urllib3 import encode_multipart_formdata
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.formparser import FormDataParser, default_stream_factory
from werkzeug.test import encode_multipart

from api.multipart import FastFormDataParser, FormTooLarge, TooManyParts, UnfinishedBody, split_parts
from tests.support.photos import FACES

MULTIPART = "multipart/form-data"


class ShortReads(io.RawIOBase):
    """A stream that hands out at most ``step`` bytes per read, as a socket may."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data, self._at, self._step = data, 0, step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = min(len(buffer), self._step, len(self._data) - self._at)
        buffer[:size] = self._data[self._at : self._at + size]
        self._at += size
        return size


def parsed(parser: FormDataParser, body: bytes, boundary: str, step: int = 1 << 20) -> tuple[Any, Any]:
    stream = io.BufferedReader(ShortReads(body, step))
    _, form, files = parser.parse(stream, MULTIPART, len(body), {"boundary": boundary})
    return (
        sorted(form.items(multi=True)),
        sorted(
            (name, upload.filename, upload.content_type, upload.read()) for name, upload in files.items(multi=True)
        ),
    )


# Values that look like the encoding's own syntax: line breaks, dashes, a boundary's start.
TRICKY_BYTES = st.lists(
    st.sampled_from([b"\r\n", b"\r", b"\n", b"--", b"-", b"\r\n--", b"x", b"\x00", b"\xff", b"ab"]), max_size=40
).map(b"".join)
FIELD_NAMES = st.text(alphabet="abcdefgh_", min_size=1, max_size=6)


@st.composite
def forms(draw: st.DrawFn) -> list[tuple[str, Any]]:
    parts: list[tuple[str, Any]] = []
    for _ in range(draw(st.integers(0, 5))):
        name = draw(FIELD_NAMES)
        if draw(st.booleans()):
            parts.append((name, draw(st.text(max_size=30))))
        else:
            filename = draw(st.text(alphabet="abcé xyz.", min_size=1, max_size=12))
            content = draw(st.one_of(TRICKY_BYTES, st.binary(max_size=3000)))
            parts.append((name, (filename, content, draw(st.sampled_from(["image/jpeg", "application/zip"])))))
    return parts


def encoded(form: list[tuple[str, Any]], boundary: str, encoder: str) -> bytes:
    """``form`` as urllib3 (under requests) or werkzeug's test client (Flask's) encodes it;
    werkzeug writes an empty part without the blank line after its headers."""
    if encoder == "urllib3":
        return encode_multipart_formdata(form, boundary=boundary)[0]
    values = MultiDict(
        (name, FileStorage(io.BytesIO(value[1]), value[0], name, value[2]) if isinstance(value, tuple) else value)
        for name, value in form
    )
    return encode_multipart(values, boundary)[1]


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    form=forms(),
    boundary=st.sampled_from(["b", "----x", "0123456789abcdef" * 4]),
    step=st.integers(1, 200),
    encoder=st.sampled_from(["urllib3", "werkzeug"]),
)
def test_any_body_parses_to_what_werkzeug_parses(
    form: list[tuple[str, Any]], boundary: str, step: int, encoder: str
) -> None:
    body = encoded(form, boundary, encoder)
    expected = parsed(FormDataParser(), body, boundary)
    assert parsed(FastFormDataParser(), body, boundary, step) == expected
    assert len(expected[0]) + len(expected[1]) == len(form)  # werkzeug itself read every part


def test_empty_parts_written_without_their_blank_line_stay_apart() -> None:
    """werkzeug's encoder (Flask's test client) ends an empty part with its headers."""
    form = [("a", ""), ("f", ("e.jpg", b"", "image/jpeg")), ("g", ("g.jpg", b"xyz", "image/jpeg")), ("z", "")]
    body = encoded(form, "bnd", "werkzeug")
    assert b'image/jpeg\r\n\r\n--bnd\r\n' in body  # no blank line before the delimiter
    for step in (1, 5, 4096):
        assert parsed(FastFormDataParser(), body, "bnd", step) == (
            [("a", ""), ("z", "")],
            [("f", "e.jpg", "image/jpeg", b""), ("g", "g.jpg", "image/jpeg", b"xyz")],
        )


def test_a_photo_part_reads_back_whole(photo_bytes: bytes) -> None:
    body, _ = encode_multipart_formdata({"top_n": "10", "image_file": ("p.jpg", photo_bytes, "image/jpeg")}, "bnd")
    fields, files = parsed(FastFormDataParser(), body, "bnd", step=7919)
    assert fields == [("top_n", "10")]
    assert files == [("image_file", "p.jpg", "image/jpeg", photo_bytes)]


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda body: body[:-10], id="cut-before-the-closing-boundary"),
        pytest.param(lambda body: body[: len(body) // 2], id="cut-in-a-part"),
        pytest.param(lambda body: body.replace(b"Content-Disposition", b"Content-Dispatch", 1), id="no-disposition"),
        pytest.param(lambda body: b"", id="empty"),
    ],
)
def test_a_malformed_body_parses_as_an_empty_form_as_werkzeugs_does(damage: Any) -> None:
    body, _ = encode_multipart_formdata({"a": "1", "f": ("f.jpg", b"\xff\xd8data", "image/jpeg")}, "bnd")
    broken = damage(body)
    assert parsed(FastFormDataParser(), broken, "bnd") == parsed(FormDataParser(), broken, "bnd") == ([], [])


def test_no_boundary_parses_as_an_empty_form() -> None:
    body, _ = encode_multipart_formdata({"a": "1"}, "bnd")
    assert parsed(FastFormDataParser(), body, "") == ([], [])


def test_text_before_the_first_boundary_is_skipped() -> None:
    body, _ = encode_multipart_formdata({"a": "1"}, "bnd")
    for preamble in (b"This is a preamble.\r\n", b"x" * 200_000 + b"\r\n"):
        assert parsed(FastFormDataParser(), preamble + body, "bnd", step=4096) == ([("a", "1")], [])


def test_a_text_part_takes_its_declared_charset() -> None:
    body = (
        b"--bnd\r\nContent-Disposition: form-data; name=\"a\"\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\n"
        b"caf\xe9\r\n--bnd--\r\n"
    )
    assert parsed(FastFormDataParser(), body, "bnd") == parsed(FormDataParser(), body, "bnd") == ([("a", "café")], [])


def test_more_parts_than_allowed_is_a_413_naming_the_parts() -> None:
    body, _ = encode_multipart_formdata([(f"p{index}", "x") for index in range(6)], "bnd")
    assert parsed(FastFormDataParser(max_form_parts=6), body, "bnd")[0][0] == ("p0", "x")
    with pytest.raises(TooManyParts) as refused:
        parsed(FastFormDataParser(max_form_parts=5), body, "bnd")
    assert refused.value.code == 413
    assert refused.value.description == "the multipart body has more than 5 parts"


def test_a_text_part_over_the_memory_limit_is_a_413() -> None:
    body, _ = encode_multipart_formdata({"image_base64": "A" * 5000}, "bnd")
    assert parsed(FastFormDataParser(max_form_memory_size=5000), body, "bnd", step=512)[0][0][1] == "A" * 5000
    with pytest.raises(FormTooLarge) as refused:
        parsed(FastFormDataParser(max_form_memory_size=4999), body, "bnd", step=512)
    assert refused.value.code == 413
    assert refused.value.description.startswith("a form field is larger than 4999 bytes")


def test_a_file_part_over_the_memory_limit_spills_to_the_stream_factory() -> None:
    spilled: list[str | None] = []

    def stream_factory(
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        spilled.append(filename)
        return default_stream_factory(total_content_length, content_type, filename, content_length)

    content = bytes(range(256)) * 40
    body, _ = encode_multipart_formdata({"small": ("s.bin", b"tiny", "x/y"), "big": ("b.bin", content, "x/y")}, "bnd")
    parser = FastFormDataParser(stream_factory=stream_factory, max_form_memory_size=4096)
    _, files = parsed(parser, body, "bnd", step=1000)
    assert spilled == ["b.bin"]  # the small part stayed in memory
    assert files == [("big", "b.bin", "x/y", content), ("small", "s.bin", "x/y", b"tiny")]


class Recorder:
    """A ``PartHandler`` that writes down what it is told."""

    def __init__(self) -> None:
        self.told: list[Any] = []

    def begin(self, part: Any) -> None:
        self.told.append(("begin", type(part).__name__, part.name, getattr(part, "filename", None)))

    def data(self, piece: bytes) -> None:
        if self.told and self.told[-1][0] == "data":
            self.told[-1] = ("data", self.told[-1][1] + piece)
        else:
            self.told.append(("data", piece))

    def end(self) -> None:
        self.told.append(("end",))


def test_split_parts_tells_each_part_as_it_streams() -> None:
    body, _ = encode_multipart_formdata([("a", "1"), ("f", ("f.jpg", b"\r\n--x" * 5000, "image/jpeg"))], "bnd")
    recorder = Recorder()
    split_parts(io.BufferedReader(ShortReads(body, 333)), b"bnd", recorder, max_parts=2, read_size=1024)
    assert recorder.told == [
        ("begin", "Field", "a", None), ("data", b"1"), ("end",),
        ("begin", "File", "f", "f.jpg"), ("data", b"\r\n--x" * 5000), ("end",),
    ]


def test_where_a_body_was_cut_off_decides_its_error() -> None:
    body, _ = encode_multipart_formdata({"f": ("f.jpg", b"data" * 100, "image/jpeg")}, "bnd")
    in_data, in_headers = body[:-50], body[: body.index(b"Content-Type")]
    with pytest.raises(UnfinishedBody):
        split_parts(io.BytesIO(in_data), b"bnd", Recorder(), max_parts=None)
    with pytest.raises(ValueError) as malformed:
        split_parts(io.BytesIO(in_headers), b"bnd", Recorder(), max_parts=None)
    assert not isinstance(malformed.value, UnfinishedBody)


def test_other_media_types_are_werkzeugs() -> None:
    _, form, files = FastFormDataParser().parse(
        io.BytesIO(b"a=1&b=%C3%A9"), "application/x-www-form-urlencoded", 12, {}
    )
    assert form.to_dict() == {"a": "1", "b": "é"} and not files


@pytest.fixture(scope="module")
def photo_bytes() -> bytes:
    """The largest shared photo: a multi-megabyte part across many reads."""
    return max((path for path in FACES.glob("*/*.jp*g")), key=lambda path: path.stat().st_size).read_bytes()
