"""Image intake: untrusted bytes in, an 8-bit RGB array out, or a typed ``ImageError``.

Accepted formats: JPEG (including MPO, the multi-picture JPEG phones write), PNG, BMP,
WebP and GIF. Animated GIF and WebP yield their first frame only: a face service compares
stills, and decoding every frame of an animation would multiply the cost of a request.

Limits are checked in this order, each before the work it protects:
1. byte size, before anything is parsed;
2. pixel count and minimum side, from the header (``Image.open`` reads only the header),
   before the pixel data is decompressed. Our limit is enforced per call from the header
   size; PIL's process-wide ``MAX_IMAGE_PIXELS`` guard is never modified, and its own
   ``DecompressionBombError`` (raised above 2x its default) is mapped to ``image_too_large``.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import cv2
import numpy as np
import numpy.typing as npt
from PIL import ExifTags, Image, ImageFile, ImageOps, UnidentifiedImageError

from pipelines.errors import ErrorCode, ImageError
from pipelines.types import DecodedImage, RGBImage

ACCEPTED_FORMATS: Final[dict[str, str]] = {
    "JPEG": "jpeg",
    "MPO": "jpeg",
    "PNG": "png",
    "BMP": "bmp",
    "DIB": "bmp",
    "WEBP": "webp",
    "GIF": "gif",
}
_ALPHA_BACKGROUND: Final = (255, 255, 255)
# ImageOps.exif_transpose's transposition per EXIF orientation, on an array (rows, columns,
# channels); 1 is upright already, and other values are ignored.
_UPRIGHT: Final[dict[int, Callable[[RGBImage], RGBImage]]] = {
    2: lambda pixels: pixels[:, ::-1],  # FLIP_LEFT_RIGHT
    3: lambda pixels: pixels[::-1, ::-1],  # ROTATE_180
    4: lambda pixels: pixels[::-1],  # FLIP_TOP_BOTTOM
    5: lambda pixels: pixels.transpose(1, 0, 2),  # TRANSPOSE
    6: lambda pixels: np.rot90(pixels, -1),  # ROTATE_270
    7: lambda pixels: pixels[::-1, ::-1].transpose(1, 0, 2),  # TRANSVERSE
    8: lambda pixels: np.rot90(pixels),  # ROTATE_90
}
_END_OF_IMAGE: Final = b"\xff\xd9"
_DATA_URL = re.compile(r"^data:(?P<media>[\w.+-]+/[\w.+-]+)?(?P<params>(;[^,;]*)*?),", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ImageLimits:
    max_bytes: int = 12 * 1024 * 1024
    max_pixels: int = 40_000_000
    min_side: int = 16


def load_decoders() -> None:
    """Import all of Pillow's format plugins now. Pillow imports five on first use and the
    rest only when an image is none of those (a WebP, say): some forty modules, which
    the first such image of a process would otherwise pay for inside its job."""
    Image.init()


def decode_image(data: bytes, limits: ImageLimits) -> DecodedImage:
    """Decode ``data`` into RGB pixels with the EXIF orientation applied."""
    if not data:
        raise ImageError("the image is empty", ErrorCode.INVALID_IMAGE)
    if len(data) > limits.max_bytes:
        raise ImageError(
            f"the image has {len(data)} bytes; the limit is {limits.max_bytes}", ErrorCode.IMAGE_TOO_LARGE
        )
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as bomb:
        raise ImageError(str(bomb), ErrorCode.IMAGE_TOO_LARGE) from bomb
    except UnidentifiedImageError as unknown:
        raise ImageError("the bytes are not a recognised image", ErrorCode.INVALID_IMAGE) from unknown
    except Exception as broken:  # PIL's plugins raise many exception types on hostile headers
        raise ImageError(f"the image header is invalid: {broken}", ErrorCode.INVALID_IMAGE) from broken
    with image:
        fmt = ACCEPTED_FORMATS.get(image.format or "")
        if fmt is None:
            raise ImageError(
                f"format {image.format} is not accepted (JPEG, PNG, BMP, WebP, GIF)",
                ErrorCode.UNSUPPORTED_FORMAT,
            )
        _check_dimensions(image.size, limits)
        try:
            pixels = _decoded_jpeg(data, image)
            if pixels is None:
                pixels = _to_rgb(image)
        except ImageError:
            raise
        except Image.DecompressionBombError as bomb:
            raise ImageError(str(bomb), ErrorCode.IMAGE_TOO_LARGE) from bomb
        except Exception as broken:  # truncated or corrupt pixel data, in any plugin
            raise ImageError(f"the image data is corrupt: {broken}", ErrorCode.INVALID_IMAGE) from broken
    height, width = pixels.shape[:2]
    return DecodedImage(pixels=pixels, format=fmt, width=width, height=height)


def decode_base64(text: str, max_bytes: int | None = None) -> bytes:
    """Bytes of a base64 image, given bare or as a ``data:`` URL; URL-safe alphabet and
    missing padding are accepted because clients produce both.

    With ``max_bytes``, a payload whose decoded size would exceed it is refused
    (``image_too_large``) from its length alone, before anything is decoded."""
    payload = text.strip()
    match = _DATA_URL.match(payload)
    if match:
        if ";base64" not in match.group("params").lower():
            raise ImageError("a data: URL must be base64-encoded", ErrorCode.INVALID_IMAGE)
        payload = payload[match.end() :]
    payload = re.sub(r"\s+", "", payload)
    if not payload:
        raise ImageError("the base64 image is empty", ErrorCode.INVALID_IMAGE)
    decoded_size = len(payload.rstrip("=")) * 3 // 4
    if max_bytes is not None and decoded_size > max_bytes:
        raise ImageError(
            f"the image has {decoded_size} bytes; the limit is {max_bytes}", ErrorCode.IMAGE_TOO_LARGE
        )
    if "-" in payload or "_" in payload:
        payload = payload.replace("-", "+").replace("_", "/")
    payload += "=" * (-len(payload) % 4)
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as bad:
        raise ImageError(f"the base64 image is malformed: {bad}", ErrorCode.INVALID_IMAGE) from bad


def _check_dimensions(size: tuple[int, int], limits: ImageLimits) -> None:
    width, height = size
    if width * height > limits.max_pixels:
        raise ImageError(
            f"the image has {width}x{height} pixels; the limit is {limits.max_pixels}",
            ErrorCode.IMAGE_TOO_LARGE,
        )
    if min(width, height) < limits.min_side:
        raise ImageError(
            f"the image is {width}x{height}; each side must be at least {limits.min_side} pixels",
            ErrorCode.IMAGE_TOO_SMALL,
        )


def _decoded_jpeg(data: bytes, image: Image.Image) -> RGBImage | None:
    """A whole JPEG in RGB or grey, decoded by OpenCV straight into an array; None for any
    other image, which Pillow decodes.

    Pillow hands its pixels to numpy through ``tobytes``, a per-pixel repacking that cost
    as much as the decode itself for a 12-Mpx photo (docs/BENCHMARKS.md, "Ninth pass"). Both
    decode with libjpeg-turbo, so the pixels are the same (tests/pipelines/test_image_intake.py).
    A stream with no end-of-image marker after its scan is left to Pillow: it refuses a
    truncated file, where OpenCV would fill in the missing rows."""
    if not isinstance(image, ImageFile.ImageFile) or image.format != "JPEG" or image.mode not in ("RGB", "L"):
        return None  # MPO, CMYK (Adobe's inverted convention is Pillow's) and the rest
    # Image.open stops reading right after the scan's header.
    if image.fp is None or data.find(_END_OF_IMAGE, image.fp.tell()) == -1:
        return None
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if bgr is None:
        return None  # Pillow says what is wrong with it
    pixels: RGBImage = np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)
    upright = _UPRIGHT.get(_exif_orientation(image))
    return pixels if upright is None else np.ascontiguousarray(upright(pixels))


def _exif_orientation(image: Image.Image) -> Any:
    """The EXIF orientation tag as stored: normally 1-8, but any value a file holds."""
    return image.getexif().get(ExifTags.Base.Orientation, 1)


def _to_rgb(image: Image.Image) -> RGBImage:
    image.seek(0)
    image.load()
    # Each step below copies the whole image when it has nothing to do (exif_transpose without
    # an orientation, convert to the mode the image has): ~5 ms of a 0.7-Mpx photo's 23.
    oriented = (ImageOps.exif_transpose(image) or image) if _exif_orientation(image) in _UPRIGHT else image
    mode = oriented.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        grey = _wide_grey_to_8bit(np.asarray(oriented), sixteen_bit=mode.startswith("I;16"))
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    if mode == "P" and "transparency" in oriented.info:
        oriented = oriented.convert("RGBA")
    if oriented.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = oriented.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*_ALPHA_BACKGROUND, 255))
        oriented = Image.alpha_composite(background, rgba)
    rgb = oriented if oriented.mode == "RGB" else oriented.convert("RGB")
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))


def _wide_grey_to_8bit(values: npt.NDArray[np.generic], *, sixteen_bit: bool) -> npt.NDArray[np.uint8]:
    """Scale 16-bit (or 32-bit int / float) grey to 0..255. PIL's own ``convert`` clips
    these modes at 255, which turns most 16-bit photos white. Modes ``I`` and ``F`` do not
    say their range, so values that fit in 8 bits (or in [0, 1] for floats) are kept as such."""
    as_float = values.astype(np.float64)
    if sixteen_bit:
        top = 65535.0
    elif values.dtype.kind == "f":
        top = 1.0 if as_float.size and float(np.nanmax(as_float)) <= 1.0 else 255.0
    else:
        top = 65535.0 if as_float.size and float(as_float.max()) > 255 else 255.0
    scaled = np.nan_to_num(as_float / top * 255.0, nan=0.0, posinf=255.0, neginf=0.0)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
