"""Video intake: untrusted bytes in, sampled RGB frames out, or a typed ``VideoError``.

Decoding is temp-file free: OpenCV (>= 4.11, FFmpeg backend) reads from any
``io.BufferedIOBase``, so the bytes are wrapped in ``io.BytesIO`` and never touch the
disk. Checks run in order, each before the work it protects:

1. byte size, before anything is parsed;
2. the container's magic bytes (MP4/MOV ``ftyp``, AVI ``RIFF....AVI``, WebM/Matroska EBML);
3. frame size and duration from the header (frame count / fps), before frames are decoded, and again from
   the frames actually decoded (headers can lie, and WebM often has no frame count).

Frames are sampled to at most ``limits.sample_fps`` and scaled so that their longer side is
at most ``limits.max_side``: liveness needs landmark time series, not full resolution.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

import cv2
import numpy as np

from pipelines.errors import VideoError
from pipelines.types import RGBImage


class VideoProblem(StrEnum):
    """Stable reasons a video is rejected (``VideoRejected.reason``)."""

    INVALID = "invalid_video"
    UNSUPPORTED = "unsupported_video"
    TOO_LARGE = "video_too_large"
    TOO_SHORT = "video_too_short"
    TOO_LONG = "video_too_long"


class VideoRejected(VideoError):
    """A ``VideoError`` (code ``invalid_video``) with the precise ``reason``."""

    def __init__(self, message: str, reason: VideoProblem) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class VideoLimits:
    max_bytes: int = 20 * 1024 * 1024
    min_seconds: float = 1.0
    max_seconds: float = 15.0
    sample_fps: float = 15.0
    """Frames analysed per second at most. Blinks last 100-400 ms, so 15 fps still sees
    every blink in two or more frames; 10 fps loses the shortest ones."""
    max_side: int = 640
    max_pixels: int = 3840 * 2160
    """Per frame, checked from the header before decoding: a decoded 8K frame costs
    ~100 MB and its decode time is paid even though frames are scaled down after."""


@dataclass(frozen=True, slots=True)
class DecodedVideo:
    frames: list[RGBImage] = field(repr=False)
    frame_indices: list[int]
    """Index in the original video of each sampled frame."""
    fps: float
    total_frames: int
    container: str

    @property
    def duration_s(self) -> float:
        return self.total_frames / self.fps if self.fps > 0 else 0.0

    @property
    def stride(self) -> int:
        """Original frames per sampled frame."""
        if len(self.frame_indices) < 2:
            return 1
        return self.frame_indices[1] - self.frame_indices[0]


_FALLBACK_FPS: Final = 25.0  # when a container does not state its rate


def sniff_container(data: bytes) -> str | None:
    """``mp4`` (also MOV/3GP: ISO base media), ``avi``, ``webm`` (also MKV) or ``None``."""
    if len(data) >= 12 and data[4:8] == b"ftyp":
        return "mp4"
    if len(data) >= 12 and data[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "mp4"  # QuickTime files may start with an atom other than ftyp
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"AVI ":
        return "avi"
    if data[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    return None


def decode_video(data: bytes, limits: VideoLimits | None = None) -> DecodedVideo:
    limits = limits or VideoLimits()
    if not data:
        raise VideoRejected("the video is empty", VideoProblem.INVALID)
    if len(data) > limits.max_bytes:
        raise VideoRejected(
            f"the video has {len(data)} bytes; the limit is {limits.max_bytes}", VideoProblem.TOO_LARGE
        )
    container = sniff_container(data)
    if container is None:
        raise VideoRejected("the bytes are not an MP4, MOV, AVI or WebM video", VideoProblem.UNSUPPORTED)
    # OpenCV keeps no reference to the stream object: it must outlive the capture, or
    # FFmpeg reads freed memory (a segfault, seen with a temporary BytesIO).
    stream = io.BytesIO(data)
    capture = cv2.VideoCapture(stream, cv2.CAP_FFMPEG, [])  # type: ignore[call-overload]
    try:
        if not capture.isOpened():
            raise VideoRejected(f"the {container} video cannot be decoded", VideoProblem.INVALID)
        fps = float(capture.get(cv2.CAP_PROP_FPS))
        if not math.isfinite(fps) or fps <= 0 or fps > 240:
            fps = _FALLBACK_FPS
        frame_pixels = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)) * int(
            capture.get(cv2.CAP_PROP_FRAME_HEIGHT)
        )
        if frame_pixels > limits.max_pixels:
            raise VideoRejected(
                f"the video's frames have {frame_pixels} pixels; the limit is {limits.max_pixels}",
                VideoProblem.TOO_LARGE,
            )
        header_frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        if header_frames > 0:
            _check_duration(header_frames / fps, limits)
        stride = max(1, round(fps / limits.sample_fps))
        max_frames = int(limits.max_seconds * fps) + 1
        frames: list[RGBImage] = []
        indices: list[int] = []
        index = 0
        while True:
            if index % stride == 0:
                ok, frame = capture.read()
                if ok:
                    frames.append(_to_rgb(frame, limits.max_side))
                    indices.append(index)
            else:
                ok = capture.grab()  # demux + decode without the colour conversion and copy
            if not ok:
                break
            index += 1
            if index > max_frames:
                raise VideoRejected(
                    f"the video is longer than {limits.max_seconds:g} s", VideoProblem.TOO_LONG
                )
    finally:
        capture.release()
        stream.close()
    if not frames:
        raise VideoRejected(f"the {container} video has no decodable frame", VideoProblem.INVALID)
    _check_duration(index / fps, limits)
    return DecodedVideo(
        frames=frames, frame_indices=indices, fps=fps, total_frames=index, container=container
    )


def frames_as_video(frames: list[RGBImage], fps: float) -> DecodedVideo:
    """Wrap already-decoded frames (every frame of the clip, in order) for ``check_liveness``."""
    if not frames:
        raise VideoRejected("no frames were given", VideoProblem.INVALID)
    return DecodedVideo(
        frames=list(frames),
        frame_indices=list(range(len(frames))),
        fps=fps,
        total_frames=len(frames),
        container="frames",
    )


def _check_duration(seconds: float, limits: VideoLimits) -> None:
    if seconds > limits.max_seconds + 0.05:
        raise VideoRejected(
            f"the video lasts {seconds:.1f} s; the limit is {limits.max_seconds:g} s", VideoProblem.TOO_LONG
        )
    if seconds < limits.min_seconds - 0.05:
        raise VideoRejected(
            f"the video lasts {seconds:.1f} s; it must last at least {limits.min_seconds:g} s",
            VideoProblem.TOO_SHORT,
        )


def _to_rgb(frame: np.ndarray, max_side: int) -> RGBImage:  # type: ignore[type-arg]
    height, width = frame.shape[:2]
    scale = max_side / max(height, width)
    if scale < 1.0:
        frame = cv2.resize(frame, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
