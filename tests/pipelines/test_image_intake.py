"""Image intake: every accepted format and colour mode becomes 8-bit RGB, and every
rejection is an ``ImageError`` with a stable code. Inputs are built in memory with Pillow
(plus one real photo), so each test states exactly what it feeds in."""

from __future__ import annotations

import base64
import io
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps

from pipelines.errors import ErrorCode, ImageError, PipelineError
from pipelines.image import ImageLimits, _decoded_jpeg, decode_base64, decode_image

LIMITS = ImageLimits()
EXIF_ORIENTATION_TAG = 0x0112


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def two_tone(width: int = 64, height: int = 32) -> Image.Image:
    """Left half red, right half blue: orientation changes are visible in the pixels."""
    image = Image.new("RGB", (width, height), (255, 0, 0))
    image.paste((0, 0, 255), (width // 2, 0, width, height))
    return image


def png_with_header_size(width: int, height: int) -> bytes:
    """A valid tiny PNG whose IHDR claims ``width`` x ``height`` (CRC recomputed), i.e. a
    decompression bomb header: the claim is checked before any pixel is inflated."""
    data = bytearray(encode(Image.new("L", (16, 16)), "PNG"))
    ihdr_start = 8  # after the PNG signature
    body = bytearray(data[ihdr_start + 8 : ihdr_start + 8 + 13])
    body[0:8] = struct.pack(">II", width, height)
    data[ihdr_start + 8 : ihdr_start + 8 + 13] = body
    crc = zlib.crc32(b"IHDR" + bytes(body)) & 0xFFFFFFFF
    data[ihdr_start + 8 + 13 : ihdr_start + 8 + 17] = struct.pack(">I", crc)
    return bytes(data)


def assert_rejected(data: bytes, code: ErrorCode, limits: ImageLimits = LIMITS) -> ImageError:
    with pytest.raises(ImageError) as caught:
        decode_image(data, limits)
    assert caught.value.code is code
    assert caught.value.code.value == code.value
    return caught.value


@pytest.mark.parametrize(
    ("fmt", "options", "expected_format"),
    [
        ("JPEG", {"quality": 95}, "jpeg"),
        ("PNG", {}, "png"),
        ("BMP", {}, "bmp"),
        ("WEBP", {"lossless": True}, "webp"),
    ],
)
def test_each_accepted_format_decodes_to_8bit_rgb(
    fmt: str, options: dict[str, object], expected_format: str
) -> None:
    decoded = decode_image(encode(two_tone(), fmt, **options), LIMITS)

    assert decoded.format == expected_format
    assert (decoded.width, decoded.height) == (64, 32)
    assert decoded.pixels.shape == (32, 64, 3) and decoded.pixels.dtype == np.uint8
    tolerance = 40 if fmt == "JPEG" else 0  # JPEG chroma subsampling blurs the pure colours a little
    assert np.abs(decoded.pixels[16, 8].astype(int) - (255, 0, 0)).max() <= tolerance
    assert np.abs(decoded.pixels[16, 56].astype(int) - (0, 0, 255)).max() <= tolerance


def test_real_photo_decodes_with_its_size(faces_dir: Path) -> None:
    path = faces_dir / "face_recognition-obama" / "obama.jpg"
    with Image.open(path) as reference:
        expected = np.asarray(reference.convert("RGB"))

    decoded = decode_image(path.read_bytes(), LIMITS)

    assert decoded.format == "jpeg"
    np.testing.assert_array_equal(decoded.pixels, expected)


def test_base64_with_and_without_data_url_prefix_gives_the_same_bytes() -> None:
    raw = encode(two_tone(), "PNG")
    bare = base64.b64encode(raw).decode()

    assert decode_base64(bare) == raw
    assert decode_base64(f"data:image/png;base64,{bare}") == raw
    assert decode_base64(f"DATA:image/png;charset=utf-8;BASE64,{bare}") == raw
    assert decode_base64(f"  {bare[:40]}\n{bare[40:]}  ") == raw  # line-wrapped, as some clients send
    assert decode_base64(base64.urlsafe_b64encode(raw).decode().rstrip("=")) == raw
    assert decode_image(decode_base64(f"data:image/png;base64,{bare}"), LIMITS).width == 64


@pytest.mark.parametrize(
    "text",
    ["", "   ", "not base64 at all!", "data:image/png,rawbytes", "data:image/png;base64,", "QUJD$$"],
)
def test_malformed_base64_is_invalid_image(text: str) -> None:
    with pytest.raises(ImageError) as caught:
        decode_base64(text)
    assert caught.value.code is ErrorCode.INVALID_IMAGE


def test_base64_over_the_byte_limit_is_refused_before_decoding() -> None:
    text = "A" * 4_000_000  # would decode to 3 MB

    with pytest.raises(ImageError) as caught:
        decode_base64(text, max_bytes=1_000_000)
    assert caught.value.code is ErrorCode.IMAGE_TOO_LARGE
    assert len(decode_base64(text[:400], max_bytes=1_000_000)) == 300


@pytest.mark.parametrize(
    ("orientation", "expected_size", "red_at"),
    [
        (1, (64, 32), (16, 8)),  # as stored: red on the left
        (3, (64, 32), (16, 56)),  # rotated 180: red on the right
        (6, (32, 64), (8, 16)),  # displayed rotated 90 clockwise: red on top
        (8, (32, 64), (56, 16)),  # rotated 90 counter-clockwise: red at the bottom
    ],
)
def test_exif_orientation_is_applied(
    orientation: int, expected_size: tuple[int, int], red_at: tuple[int, int]
) -> None:
    exif = Image.Exif()
    exif[EXIF_ORIENTATION_TAG] = orientation
    data = encode(two_tone(), "JPEG", quality=95, exif=exif)

    decoded = decode_image(data, LIMITS)

    assert (decoded.width, decoded.height) == expected_size
    red = decoded.pixels[red_at]
    assert red[0] > 200 and red[2] < 60, red


@pytest.mark.parametrize("orientation", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_pixels_equal_pillows_own_transpose_and_convert(orientation: int, mode: str) -> None:
    """decode_image skips exif_transpose and convert where they would only copy (upright,
    already RGB): the pixels stay those of the plain Pillow calls, for every orientation
    value, out-of-range ones included."""
    exif = Image.Exif()
    exif[EXIF_ORIENTATION_TAG] = orientation
    data = encode(two_tone(48, 24).convert(mode), "JPEG", quality=90, exif=exif)
    with Image.open(io.BytesIO(data)) as image:
        expected = np.asarray((ImageOps.exif_transpose(image) or image).convert("RGB"))

    np.testing.assert_array_equal(decode_image(data, LIMITS).pixels, expected)


def test_whole_jpegs_skip_pillows_repacking_and_keep_its_pixels(faces_dir: Path) -> None:
    """A whole RGB or grey JPEG is decoded by OpenCV straight into an array
    (``_decoded_jpeg``): every such photo of the shared set, and a progressive one, comes out
    as Pillow's own pixels, upright."""
    photos = sorted(path for path in faces_dir.rglob("*") if path.suffix.lower() in (".jpg", ".jpeg"))
    with Image.open(photos[0]) as first:
        progressive = encode(first, "JPEG", quality=90, progressive=True)
    checked = 0
    for data in [progressive, *(photo.read_bytes() for photo in photos)]:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "JPEG" or image.mode not in ("RGB", "L"):
                continue  # PNG and WebP under a .jpg name, and CMYK, are Pillow's
            direct = _decoded_jpeg(data, image)  # before anything else reads the file
            expected = np.asarray((ImageOps.exif_transpose(image) or image).convert("RGB"))
        assert direct is not None
        np.testing.assert_array_equal(direct, expected)
        checked += 1
    assert checked > 100


def test_greyscale_becomes_three_equal_channels() -> None:
    grey = Image.linear_gradient("L").resize((64, 64))

    decoded = decode_image(encode(grey, "PNG"), LIMITS)

    assert decoded.pixels.shape == (64, 64, 3)
    np.testing.assert_array_equal(decoded.pixels[..., 0], np.asarray(grey))
    np.testing.assert_array_equal(decoded.pixels[..., 0], decoded.pixels[..., 2])


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_is_composited_on_white(mode: str) -> None:
    image = Image.new(mode, (32, 32), (0, 0, 0, 255) if mode == "RGBA" else (0, 255))
    image.paste((0, 0, 0, 0) if mode == "RGBA" else (0, 0), (0, 0, 16, 32))  # left half transparent

    decoded = decode_image(encode(image, "PNG"), LIMITS)

    assert decoded.pixels.shape == (32, 32, 3)
    np.testing.assert_array_equal(decoded.pixels[5, 5], (255, 255, 255))
    np.testing.assert_array_equal(decoded.pixels[5, 25], (0, 0, 0))


def test_palette_transparency_is_composited_on_white() -> None:
    image = Image.new("P", (32, 32), 1)
    image.putpalette([0, 0, 0, 200, 10, 10] + [0] * 762)
    image.paste(0, (0, 0, 16, 32))
    image.info["transparency"] = 0

    decoded = decode_image(encode(image, "PNG", transparency=0), LIMITS)

    np.testing.assert_array_equal(decoded.pixels[5, 5], (255, 255, 255))
    np.testing.assert_array_equal(decoded.pixels[5, 25], (200, 10, 10))


def test_16bit_greyscale_is_scaled_not_clipped() -> None:
    values = np.zeros((32, 32), dtype=np.uint16)
    values[:, 8:16] = 16384
    values[:, 16:24] = 32768
    values[:, 24:] = 65535
    image = Image.fromarray(values)
    assert image.mode.startswith("I;16")

    decoded = decode_image(encode(image, "PNG"), LIMITS)

    assert decoded.pixels.dtype == np.uint8
    assert [int(decoded.pixels[0, x, 0]) for x in (0, 8, 16, 24)] == [0, 64, 128, 255]
    np.testing.assert_array_equal(decoded.pixels[..., 0], decoded.pixels[..., 1])


def test_cmyk_jpeg_becomes_rgb() -> None:
    cmyk = Image.new("CMYK", (32, 32), (0, 255, 255, 0))  # pure red in CMYK
    cmyk.paste((255, 255, 0, 0), (16, 0, 32, 32))  # pure blue on the right
    data = encode(cmyk, "JPEG", quality=95)
    with Image.open(io.BytesIO(data)) as check:
        assert check.mode == "CMYK"

    decoded = decode_image(data, LIMITS)

    assert decoded.pixels.shape == (32, 32, 3)
    assert np.abs(decoded.pixels[16, 4].astype(int) - (255, 0, 0)).max() <= 30
    assert np.abs(decoded.pixels[16, 28].astype(int) - (0, 0, 255)).max() <= 30


def test_bytes_over_the_limit_are_refused_before_parsing() -> None:
    not_even_an_image = b"\x00" * 2048

    assert_rejected(not_even_an_image, ErrorCode.IMAGE_TOO_LARGE, ImageLimits(max_bytes=1024))


@pytest.mark.parametrize(
    ("width", "height"),
    [(8_000, 6_000), (60_000, 60_000)],  # over our limit only; over Pillow's own bomb guard too
)
def test_decompression_bomb_header_is_refused_without_decoding(width: int, height: int) -> None:
    bomb = png_with_header_size(width, height)
    assert len(bomb) < 200

    started = time.perf_counter()
    error = assert_rejected(bomb, ErrorCode.IMAGE_TOO_LARGE)

    assert time.perf_counter() - started < 0.5  # 48 MP of pixels were never allocated
    assert "pixels" in error.message


def test_pixel_limit_is_per_call() -> None:
    data = encode(two_tone(64, 32), "PNG")

    assert_rejected(data, ErrorCode.IMAGE_TOO_LARGE, ImageLimits(max_pixels=64 * 32 - 1))
    assert decode_image(data, ImageLimits(max_pixels=64 * 32)).width == 64


def test_images_below_the_minimum_side_are_too_small() -> None:
    assert_rejected(encode(two_tone(64, 15), "PNG"), ErrorCode.IMAGE_TOO_SMALL)
    assert decode_image(encode(two_tone(64, 16), "PNG"), LIMITS).height == 16


def test_truncated_bytes_are_invalid(faces_dir: Path) -> None:
    data = (faces_dir / "face_recognition-obama" / "obama.jpg").read_bytes()
    cut = data[: len(data) // 2]
    with Image.open(io.BytesIO(cut)) as image:
        assert _decoded_jpeg(cut, image) is None  # left to Pillow: OpenCV would fill in grey rows

    assert_rejected(cut, ErrorCode.INVALID_IMAGE)
    assert_rejected(encode(two_tone(), "PNG")[:60], ErrorCode.INVALID_IMAGE)


@pytest.mark.parametrize("data", [b"", b"hello, world", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, b"GIF89a"])
def test_non_images_are_invalid(data: bytes) -> None:
    assert_rejected(data, ErrorCode.INVALID_IMAGE)


@pytest.mark.parametrize(("fmt", "options"), [("TIFF", {}), ("PPM", {}), ("ICO", {"sizes": [(32, 32)]})])
def test_recognised_but_unaccepted_formats_are_unsupported(fmt: str, options: dict[str, object]) -> None:
    assert_rejected(encode(two_tone(32, 32), fmt, **options), ErrorCode.UNSUPPORTED_FORMAT)


def test_error_codes_are_stable_strings() -> None:
    assert {code.value for code in ErrorCode} >= {
        "invalid_image",
        "unsupported_format",
        "image_too_large",
        "image_too_small",
    }


_SEED_IMAGES = [encode(two_tone(), "PNG"), encode(two_tone(), "JPEG"), encode(two_tone(), "WEBP")]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(range(len(_SEED_IMAGES))),
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=8),
    cut=st.integers(min_value=0),
)
def test_corrupted_images_raise_only_typed_errors(seed: int, flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(_SEED_IMAGES[seed])
    for position, value in flips:
        data[position % len(data)] = value
    data = data[: max(1, len(data) - cut % len(data))]
    try:
        decoded = decode_image(bytes(data), LIMITS)
    except PipelineError as error:
        assert error.code in {
            ErrorCode.INVALID_IMAGE,
            ErrorCode.UNSUPPORTED_FORMAT,
            ErrorCode.IMAGE_TOO_LARGE,
            ErrorCode.IMAGE_TOO_SMALL,
        }
    else:
        assert decoded.pixels.dtype == np.uint8 and decoded.pixels.shape[2] == 3


def test_load_decoders_imports_the_plugins_a_first_webp_would_otherwise_import_in_its_job() -> None:
    # A fresh interpreter: this one has long since imported every plugin.
    script = (
        "import sys\n"
        "from pipelines.image import load_decoders\n"
        "before = 'PIL.WebPImagePlugin' in sys.modules\n"
        "load_decoders()\n"
        "print(before, 'PIL.WebPImagePlugin' in sys.modules)\n"
    )
    printed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert printed.stdout.split() == ["False", "True"]
