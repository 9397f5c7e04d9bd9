"""Clips for the liveness tests and bench/liveness_accuracy.py, written with
cv2.VideoWriter from real frames: a still photo looped, a frozen video frame, a still frame
panned or zoomed (nothing in them performs an action), a stretch cut out of a shared video,
two portraits side by side."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from pipelines.types import RGBImage

NEGATIVE_FPS = 25.0
NEGATIVE_SECONDS = 3.0
STILL_MOTIONS = ("frozen", "pan", "zoom")
"""The synthetic negatives: a frame repeated, the camera sliding 12% of the width across it,
and zooming in on it by a quarter."""


def read_frames(path: Path) -> list[RGBImage]:
    """Every frame of a video file, in RGB."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    finally:
        capture.release()
    return frames


def still_motion(
    still: RGBImage, motion: str, seconds: float = NEGATIVE_SECONDS, fps: float = NEGATIVE_FPS
) -> list[RGBImage]:
    """``still`` repeated (``frozen``), panned or zoomed over ``seconds``: a printed photo in
    front of a camera that moves, not a face that acts."""
    count = round(seconds * fps)
    if motion == "frozen":
        return [still] * count
    height, width = still.shape[:2]
    frames = []
    for index in range(count):
        progress = index / (count - 1)
        if motion == "pan":
            matrix = np.float32([[1, 0, -0.06 * width + 0.12 * width * progress], [0, 1, 0]])
        elif motion == "zoom":
            matrix = cv2.getRotationMatrix2D((width / 2, height / 2), 0.0, 1.0 + 0.25 * progress)
        else:
            raise ValueError(f"motion must be one of {STILL_MOTIONS}, not {motion!r}")
        frames.append(cv2.warpAffine(still, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE))
    return frames


def cut_clip(path: Path, video: Path, first: int, last: int) -> bytes:
    """Frames ``first``..``last`` (inclusive) of ``video`` written as a clip at its frame rate."""
    capture = cv2.VideoCapture(str(video))
    fps = float(capture.get(cv2.CAP_PROP_FPS)) or NEGATIVE_FPS
    capture.release()
    return write_clip(path, read_frames(video)[first : last + 1], fps=fps)


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
