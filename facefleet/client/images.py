"""Image arguments: a path, bytes, a PIL image or a numpy array (H x W x 3, RGB)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

ImageInput = str | Path | bytes | bytearray | Any


def image_bytes(image: ImageInput) -> tuple[str, bytes]:
    """(file name, encoded bytes) of any supported image argument."""
    if isinstance(image, (str, Path)):
        path = Path(image)
        return path.name, path.read_bytes()
    if isinstance(image, (bytes, bytearray)):
        return "image", bytes(image)
    from PIL import Image

    if isinstance(image, Image.Image):
        return "image.png", _png(image)
    import numpy as np  # a dependency of the project; a client-only install has it with pillow use

    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8:
            raise TypeError("numpy images must be uint8 (H x W x 3 RGB, or H x W grey)")
        return "image.png", _png(Image.fromarray(image))
    raise TypeError(
        f"unsupported image type {type(image).__name__}: give a path, bytes, PIL image or numpy array"
    )


def _png(image: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
