"""Video intake: containers, limits and frame sampling (no face models involved)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipelines.errors import ErrorCode, VideoError
from pipelines.liveness import VideoLimits, VideoProblem, VideoRejected, decode_video, frames_as_video
from pipelines.liveness.video import sniff_container
from tests.analysis.conftest import VIDEOS
from tests.support.liveness_clips import write_clip

D0 = VIDEOS / "liveportrait" / "d0.mp4"  # 78 frames, 25 fps, 512 x 512


def rejected(data: bytes, limits: VideoLimits | None = None) -> VideoProblem:
    with pytest.raises(VideoRejected) as caught:
        decode_video(data, limits)
    assert isinstance(caught.value, VideoError) and caught.value.code == ErrorCode.INVALID_VIDEO
    return caught.value.reason


def gradient_frames(count: int, size: int = 96) -> list[np.ndarray]:
    ramp = np.linspace(0, 255, size, dtype=np.uint8)
    return [
        np.ascontiguousarray(np.stack([np.roll(ramp, i)[None, :].repeat(size, 0)] * 3, axis=2))
        for i in range(count)
    ]


def test_real_clip_is_sampled_and_scaled() -> None:
    video = decode_video(D0.read_bytes(), VideoLimits(sample_fps=12.5, max_side=256))
    assert video.container == "mp4" and video.fps == pytest.approx(25.0)
    assert video.total_frames == 78 and video.duration_s == pytest.approx(3.12)
    assert video.stride == 2 and video.frame_indices[:3] == [0, 2, 4] and len(video.frames) == 39
    assert all(frame.shape == (256, 256, 3) and frame.dtype == np.uint8 for frame in video.frames)


@pytest.mark.parametrize(
    ("suffix", "fourcc", "container"),
    [(".avi", "MJPG", "avi"), (".webm", "VP80", "webm"), (".mov", "mp4v", "mp4")],
)
def test_every_accepted_container_decodes(tmp_path: Path, suffix: str, fourcc: str, container: str) -> None:
    data = write_clip(tmp_path / f"clip{suffix}", gradient_frames(30), fps=15.0, fourcc=fourcc)
    video = decode_video(data)
    assert video.container == container and video.stride == 1
    assert len(video.frames) == 30 and video.duration_s == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", VideoProblem.INVALID),
        (b"\x89PNG\r\n\x1a\n" + bytes(200), VideoProblem.UNSUPPORTED),
        (bytes(range(256)) * 10, VideoProblem.UNSUPPORTED),
    ],
)
def test_bad_bytes(data: bytes, reason: VideoProblem) -> None:
    assert rejected(data) == reason


def test_truncated_mp4_is_invalid() -> None:
    assert rejected(D0.read_bytes()[:2000]) == VideoProblem.INVALID


def test_size_limit_is_checked_before_parsing() -> None:
    assert rejected(D0.read_bytes(), VideoLimits(max_bytes=1000)) == VideoProblem.TOO_LARGE


def test_frame_size_limit_is_checked_from_the_header() -> None:
    assert rejected(D0.read_bytes(), VideoLimits(max_pixels=500 * 500)) == VideoProblem.TOO_LARGE


def test_too_long_real_clip() -> None:
    # d9 lasts 19.6 s; the header alone rejects it, before any frame is decoded.
    assert rejected((VIDEOS / "liveportrait" / "d9.mp4").read_bytes()) == VideoProblem.TOO_LONG


def test_too_short_clip(tmp_path: Path) -> None:
    data = write_clip(tmp_path / "short.mp4", gradient_frames(10), fps=25.0)
    assert rejected(data) == VideoProblem.TOO_SHORT


def test_container_sniffing() -> None:
    assert sniff_container(D0.read_bytes()[:64]) == "mp4"
    assert sniff_container(b"RIFF\x00\x00\x00\x00AVI LIST") == "avi"
    assert sniff_container(b"\x1a\x45\xdf\xa3\x01\x00\x00\x00") == "webm"
    assert sniff_container(b"GIF89a") is None


def test_frames_as_video() -> None:
    video = frames_as_video(gradient_frames(5), fps=5.0)
    assert video.stride == 1 and video.duration_s == pytest.approx(1.0)
    with pytest.raises(VideoRejected):
        frames_as_video([], fps=5.0)
