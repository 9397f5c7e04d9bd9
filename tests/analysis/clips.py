"""Synthetic clips written with cv2.VideoWriter from real frames (a still photo looped,
two portraits side by side), for the liveness negatives."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from pipelines.types import RGBImage


def write_clip(path: Path, frames: Sequence[RGBImage], fps: float, fourcc: str = "mp4v") -> bytes:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), fps, (width, height))
    assert writer.isOpened(), f"OpenCV cannot write {fourcc} to {path.suffix}"
    try:
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return path.read_bytes()


def looped_photo(
    photo: RGBImage, seconds: float, fps: float, jitter_px: int = 0, seed: int = 0
) -> list[RGBImage]:
    """The photo repeated; with ``jitter_px`` it is also shifted and noised a little per
    frame, like a printed photo held in front of a camera."""
    count = round(seconds * fps)
    if jitter_px == 0:
        return [photo] * count
    rng = np.random.default_rng(seed)
    height, width = photo.shape[:2]
    frames = []
    for _ in range(count):
        dx, dy = rng.integers(-jitter_px, jitter_px + 1, size=2)
        shift = np.float32([[1, 0, dx], [0, 1, dy]])
        moved = cv2.warpAffine(photo, shift, (width, height), borderMode=cv2.BORDER_REPLICATE)
        noise = rng.normal(0.0, 3.0, moved.shape)
        frames.append(np.clip(moved.astype(np.float64) + noise, 0, 255).astype(np.uint8))
    return frames


def fit(image: RGBImage, width: int, height: int) -> RGBImage:
    """Scale ``image`` to cover width x height and crop the centre."""
    scale = max(width / image.shape[1], height / image.shape[0])
    resized = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    top = (resized.shape[0] - height) // 2
    left = (resized.shape[1] - width) // 2
    return np.ascontiguousarray(resized[top : top + height, left : left + width])
