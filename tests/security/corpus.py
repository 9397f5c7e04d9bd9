"""The bad-input corpus, generated in memory from real photos (nothing is stored in the repo).

Each builder returns bytes; the test module decides what answer each one must get.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

from PIL import Image


def png_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    """A tiny PNG whose header declares ``width`` x ``height`` pixels (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    # A few compressed rows only: a decoder that trusts the header would allocate 7.5 GB.
    rows = zlib.compress(b"\x00" * (width * 3 + 1) * 4, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def truncated_jpeg(photo: Path) -> bytes:
    data = photo.read_bytes()
    return data[: len(data) // 3]


def html_page() -> bytes:
    return b"<!DOCTYPE html><html><head><title>x</title></head><body><img src=x onerror=alert(1)></body></html>"


def pdf_document() -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
        b"trailer<</Root 1 0 R>>\n%%EOF\n"
    )


def _small(photo: Path) -> Image.Image:
    """The photo at most 800 px wide, so re-encodings stay under the API's 12 MB image limit."""
    image = Image.open(photo)
    image.load()
    image.thumbnail((800, 800))
    return image


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def animated_gif(photo: Path) -> bytes:
    first = _small(photo).convert("RGB")
    second = first.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return _encode(first, "GIF", save_all=True, append_images=[second], duration=100, loop=0)


def cmyk_jpeg(photo: Path) -> bytes:
    return _encode(_small(photo).convert("CMYK"), "JPEG", quality=92)


def sixteen_bit_png(photo: Path) -> bytes:
    import numpy as np

    grey = np.asarray(_small(photo).convert("L"), dtype=np.uint16) * 257
    return _encode(Image.fromarray(grey.astype(np.uint16), mode="I;16"), "PNG")


def exif_rotated_jpeg(photo: Path) -> bytes:
    """The photo stored rotated 90 degrees, with EXIF orientation 6 telling viewers to turn it back."""
    upright = _small(photo).convert("RGB")
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 CW to display
    return _encode(stored, "JPEG", quality=92, exif=exif.tobytes())


def greyscale_jpeg(photo: Path) -> bytes:
    return _encode(_small(photo).convert("L"), "JPEG", quality=92)


def tiny_png(photo: Path) -> bytes:
    return _encode(_small(photo).convert("RGB").resize((20, 20)), "PNG")


def upright_jpeg(photo: Path) -> bytes:
    """The same scaled photo as the other builders, with no EXIF orientation."""
    return _encode(_small(photo).convert("RGB"), "JPEG", quality=92)
