"""A job's images are read and decoded ahead of it, in order, each failure in its place."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from core.jobs import JobKind
from infra.errors import ObjectNotFound
from pipelines.errors import PipelineError
from pipelines.image import ImageLimits, decode_image
from pipelines.types import DecodedImage
from workers.errors import JobFailure
from workers.execution import JobContext
from workers.services.common import iter_images

ROUND_TRIP_SECONDS = 0.04


class SlowStore:
    """A store whose every read takes a round trip; it notes when each key's read began."""

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects
        self.read_started: dict[str, float] = {}

    def get(self, key: str) -> bytes:
        self.read_started.setdefault(key, time.perf_counter())
        time.sleep(ROUND_TRIP_SECONDS)
        if key not in self.objects:
            raise ObjectNotFound(key)
        return self.objects[key]


def context(store: SlowStore) -> JobContext:
    runtime = SimpleNamespace(store=store, decode=lambda data: decode_image(data, ImageLimits()))
    return JobContext(job_id="job", kind=JobKind.ENROLL_CHUNK, runtime=runtime)  # type: ignore[arg-type]


@pytest.fixture
def photo(faces_dir: Path) -> bytes:
    return (faces_dir / "face_recognition-obama" / "obama.jpg").read_bytes()


def test_images_come_in_order_with_each_failure_in_its_place(photo: bytes) -> None:
    ctx = context(SlowStore({"images/a": photo, "images/broken": b"not an image"}))

    loaded = list(iter_images(ctx, ["images/a", "images/gone", "images/broken", "images/a"]))

    assert isinstance(loaded[0], DecodedImage) and isinstance(loaded[3], DecodedImage)
    assert isinstance(loaded[1], JobFailure) and loaded[1].code.value == "invalid_image"
    assert isinstance(loaded[2], PipelineError)


def test_the_next_images_are_read_while_the_job_works_on_one(photo: bytes) -> None:
    keys = [f"images/{index}" for index in range(8)]
    store = SlowStore(dict.fromkeys(keys, photo))
    ctx = context(store)
    work_done: list[float] = []

    for _ in iter_images(ctx, keys):
        time.sleep(ROUND_TRIP_SECONDS)  # the job's own work on the image
        work_done.append(time.perf_counter())

    # One after the other, each read would begin after the work on the image before it.
    # Ordered by events, not by a time bound: it holds however fast this machine decodes.
    assert len(work_done) == len(keys)
    assert all(store.read_started[keys[index + 1]] < work_done[index] for index in range(len(keys) - 1))


def test_each_image_is_prepared_by_the_readers_before_the_job_takes_it(photo: bytes) -> None:
    keys = [f"images/{index}" for index in range(4)]
    ctx = context(SlowStore({**dict.fromkeys(keys, photo), "images/broken": b"not an image"}))
    prepared_on: list[str] = []

    def prepare(image: DecodedImage) -> DecodedImage:
        prepared_on.append(threading.current_thread().name)
        return replace(image, format="prepared")

    loaded = list(iter_images(ctx, [*keys[:2], "images/broken", *keys[2:]], prepare=prepare))

    assert [getattr(image, "format", None) for image in loaded] == ["prepared"] * 2 + [None] + ["prepared"] * 2
    assert isinstance(loaded[2], PipelineError)  # a failed read is not prepared
    assert len(prepared_on) == 4 and threading.current_thread().name not in prepared_on
