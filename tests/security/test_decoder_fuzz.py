"""Hypothesis fuzzing of the image decoder: any bytes give a decoded image or an ImageError.

Mutations start from small real encodings (JPEG, PNG, GIF, BMP, WebP) so the fuzzer reaches
the parsers' inner code, not only the "unknown format" exit. Deterministic (derandomized)
and bounded, so it runs in seconds on every suite run.
"""

from __future__ import annotations

import io

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from pipelines.errors import ImageError
from pipelines.image import ImageLimits, decode_base64, decode_image

LIMITS = ImageLimits(max_bytes=256 * 1024, max_pixels=2_000_000, min_side=16)


def _seed(fmt: str) -> bytes:
    pixels = np.random.default_rng(7).integers(0, 255, (24, 32, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, fmt)
    return buffer.getvalue()


SEEDS = [_seed(fmt) for fmt in ("JPEG", "PNG", "GIF", "BMP", "WEBP")]


@st.composite
def mutated_images(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 8))):
        action = draw(st.sampled_from(["flip", "truncate", "insert", "header"]))
        if not data:
            break
        position = draw(st.integers(0, len(data) - 1))
        if action == "flip":
            data[position] = draw(st.integers(0, 255))
        elif action == "truncate":
            del data[position:]
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=16))
        else:  # rewrite a byte of the header, where sizes and types live
            data[min(position, 32) % max(1, len(data))] = draw(st.integers(0, 255))
    return bytes(data)


def _decode_or_refuse(data: bytes) -> None:
    try:
        decoded = decode_image(data, LIMITS)
    except ImageError as refused:
        assert str(refused)  # a message the API can show
        return
    pixels = decoded.pixels
    assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3
    assert pixels.shape[0] * pixels.shape[1] <= LIMITS.max_pixels


@settings(max_examples=400, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_images())
def test_mutated_real_images_decode_or_raise_image_error(data: bytes) -> None:
    _decode_or_refuse(data)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes_decode_or_raise_image_error(data: bytes) -> None:
    _decode_or_refuse(data)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.text(max_size=256))
def test_base64_text_decodes_or_raises_image_error(text: str) -> None:
    try:
        decode_base64(text, max_bytes=1024)
    except ImageError:
        pass
