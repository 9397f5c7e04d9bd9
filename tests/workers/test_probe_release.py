"""A job deletes its stored probes once its outcome is stored; a probe that came inline in
its message was never stored, so the job spends no SQL read and no store call on it, and
reads as bytes whichever serializer carried it."""

from __future__ import annotations

import base64
from types import SimpleNamespace
from typing import Any

from core.messages import INLINE_IMAGES_FIELD
from core.probes import PROBE_PREFIX
from workers.execution import split_inline_images
from workers.probes import release_probes

STORED = f"{PROBE_PREFIX}stored/abc"
CARRIED = f"{PROBE_PREFIX}carried/def"
IN_USE = f"{PROBE_PREFIX}in-use/ghi"


class RecordingRuntime:
    def __init__(self, referenced: frozenset[str] = frozenset()) -> None:
        self.asked: list[set[str]] = []
        self.deleted: list[str] = []
        self.settings = SimpleNamespace(jobs=SimpleNamespace(probe_retention_seconds=0))
        self.jobs = SimpleNamespace(referenced_keys=self._referenced)
        self.store = SimpleNamespace(delete=self.deleted.append)
        self._in_use = set(referenced)

    def _referenced(self, keys: set[str]) -> set[str]:
        self.asked.append(set(keys))
        return keys & self._in_use


def release(runtime: RecordingRuntime, payload: dict[str, Any], carried: tuple[str, ...] = ()) -> int:
    return release_probes(runtime, payload, carried=carried)  # type: ignore[arg-type]


def test_a_job_whose_probe_came_inline_neither_reads_sql_nor_calls_the_store() -> None:
    runtime = RecordingRuntime()

    assert release(runtime, {"image_key": CARRIED}, carried=(CARRIED,)) == 0
    assert runtime.asked == [] and runtime.deleted == []


def test_stored_probes_are_deleted_unless_another_job_still_names_them() -> None:
    runtime = RecordingRuntime(referenced=frozenset({IN_USE}))

    removed = release(
        runtime,
        {"image1_key": STORED, "image2_key": CARRIED, "reference_image_key": IN_USE},
        carried=(CARRIED,),
    )

    assert removed == 1 and runtime.deleted == [STORED]
    assert runtime.asked == [{STORED, IN_USE}]


def test_a_carried_probe_is_bytes_from_a_msgpack_message_and_from_an_earlier_json_one() -> None:
    photo = bytes(range(256))
    job_fields = {"image_key": CARRIED, "face_set": "gate"}
    for carried in (photo, base64.b64encode(photo).decode()):  # msgpack; JSON of an earlier release
        fields, images = split_inline_images({**job_fields, INLINE_IMAGES_FIELD: {CARRIED: carried}})
        assert fields == job_fields and images == {CARRIED: photo}
