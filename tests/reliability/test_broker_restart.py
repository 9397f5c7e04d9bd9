"""Fault 2: the RabbitMQ broker restarts in the middle of a batch enrollment (issue 8).

The test owns a private RabbitMQ node (the shared one on 5672 is never touched) and stops
its broker application while a batch runs. While it is down, calls that must enqueue answer
503 FRS.0601 at once (never a 500 or a hang) and read-only calls still answer; once it is
back, the same API and worker processes carry on: the batch completes with every image
reported exactly once and no face enrolled twice, and new jobs run again.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image
from werkzeug.test import TestResponse

from infra.celery_config import celery_config
from infra.settings import BrokerSettings
from tests.support.client import ProjectClient, project_client
from tests.support.photos import identity_photos, single_face_identities
from tests.support.rabbitmq import RabbitNode, private_rabbitmq, rabbitmq_installed
from tests.support.stack import FAULT_JOBS, start_stack

pytestmark = [
    pytest.mark.integration,
    pytest.mark.model,
    pytest.mark.slow,
    pytest.mark.skipif(
        not rabbitmq_installed(), reason="rabbitmq-server is not installed: no private broker to restart"
    ),
]

BATCH = 96
# Keep the broker down long enough that running chunks finish (and try to send the next
# chunk) during the outage, not only before or after it.
OUTAGE_SECONDS = 6.0
REFUSAL_LIMIT_SECONDS = 10.0
# What is under test is the broker's redelivery, so housekeeping must not re-send anything
# on its own: on a busy 2-core machine loading the models alone can pass FAULT_JOBS' 20 s.
JOBS = FAULT_JOBS.model_copy(update={"stale_after_seconds": 300})
CONNECTED_LINE = re.compile(r"^\[([\d-]+ [\d:]+,\d{3}): INFO/MainProcess\] Connected to ", re.MULTILINE)
HELD_BACK_LINE = re.compile(r"job (\S+): transient error \(broker:")


def smaller_photos(folder: Path, count: int) -> list[Path]:
    """Real photos re-encoded at most 480 px wide (some originals are 7360 px, minutes of
    HOG on 2 cores), each file distinct so content hashing does not fold them."""
    sources = [p for identity in single_face_identities() for p in identity_photos(identity)[:2]]
    folder.mkdir()
    made: list[Path] = []
    for index in range(count):
        image = Image.open(sources[index % len(sources)]).convert("RGB")
        image.thumbnail((480, 480))
        path = folder / f"{index:03d}.jpg"
        image.save(path, "JPEG", quality=85 + index // len(sources))
        made.append(path)
    return made


def timed(call: Callable[[], TestResponse]) -> tuple[TestResponse, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def assert_refused_as_broker_unavailable(response: TestResponse, seconds: float, what: str) -> None:
    text = response.get_data(as_text=True)
    assert response.status_code == 503, (what, response.status_code, text)
    assert response.get_json()["error_code"] == "FRS.0601", (what, text)
    assert "Traceback" not in text and "amqp" not in text.lower() and "kombu" not in text.lower(), (
        what,
        text,
    )
    assert seconds < REFUSAL_LIMIT_SECONDS, f"{what} took {seconds:.1f} s to refuse"


def calls_while_down(client: ProjectClient, photo: Path) -> dict[str, float]:
    """Every call that must enqueue is refused quickly; read-only calls still answer."""
    refusals = {
        "add face": lambda: client.add_face("restart", photo),
        "face detect": lambda: client.call(
            "POST",
            "/face-detect",
            data={"image_file": (photo.open("rb"), photo.name)},
            content_type="multipart/form-data",
        ),
        "new batch": lambda: client.call(
            "POST",
            "/face-sets/restart/faces/batch",
            data={"image_file": [(photo.open("rb"), photo.name)]},
            content_type="multipart/form-data",
        ),
    }
    seconds: dict[str, float] = {}
    for what, call in refusals.items():
        response, seconds[what] = timed(call)
        assert_refused_as_broker_unavailable(response, seconds[what], what)
    response, seconds["get face set"] = timed(lambda: client.call("GET", "/face-sets/restart"))
    assert response.status_code == 200, response.get_json()
    return seconds


def last_reconnect(worker_log: str) -> datetime:
    """When the worker's consumer last connected, from Celery's own log line."""
    stamps = CONNECTED_LINE.findall(worker_log)
    return datetime.strptime(stamps[-1], "%Y-%m-%d %H:%M:%S,%f")


def assert_facefleet_queues_durable(node: RabbitNode) -> dict[str, tuple[bool, int]]:
    queues = {name: state for name, state in node.queues().items() if name.startswith("facefleet.")}
    assert "facefleet.batch" in queues, queues
    assert all(durable for durable, _ in queues.values()), f"non-durable queues: {queues}"
    return queues


def test_a_broker_restart_mid_batch_refuses_fast_and_loses_or_duplicates_nothing(tmp_path: Path) -> None:
    *photos, spare = smaller_photos(tmp_path / "photos", BATCH + 1)
    with (
        private_rabbitmq() as node,
        start_stack(tmp_path / "stack", workers=2, jobs=JOBS, broker=BrokerSettings(url=node.url)) as stack,
    ):
        # What the broker cannot show from outside: publishes wait for its confirm, messages
        # are persistent (Celery's default, not overridden), and are acked only once done.
        config = celery_config(stack.settings)
        assert config["broker_transport_options"].get("confirm_publish") is True
        assert config.get("task_default_delivery_mode", "persistent") == "persistent"
        assert config["task_acks_late"] and config["task_reject_on_worker_lost"]
        client = project_client(stack.settings)
        client.create_face_set("restart")
        started = time.monotonic()
        job_id = client.enroll_batch("restart", photos)["job_id"]
        while (client.job(job_id).get("progress") or {}).get("done", 0) < JOBS.batch_chunk_size:
            assert time.monotonic() - started < 120, f"the batch made no progress: {client.job(job_id)}"
            time.sleep(0.1)

        node.stop_app()
        down_at = time.monotonic()
        done_at_stop = client.job(job_id)["progress"]["done"]
        assert done_at_stop < BATCH, "the batch finished before the broker stopped: make it longer"
        refusal_seconds = calls_while_down(client, spare)
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_at)))
        done_while_down = client.job(job_id)["progress"]["done"]
        node.start_app()
        back_at, back_at_clock = time.monotonic(), datetime.now()
        outage_seconds = back_at - down_at
        # Unacked and queued chunk messages were persistent in durable queues: still there.
        queues_after_restart = assert_facefleet_queues_durable(node)

        job = client.wait_job(job_id, timeout=120)
        finished = time.monotonic()
        logs = "".join(stack.worker_log(f"w{index}") for index in (1, 2))
        assert job["status"] == "succeeded", (job, logs[-3000:])
        # The case that matters happened: a chunk finished during the outage and could not
        # send the next one; it must have been kept for a rerun, not failed.
        held_back = set(HELD_BACK_LINE.findall(logs))
        assert held_back, "no chunk tried to send during the outage: the test missed its case"
        # Its unacked message outlived stop_app (durable queue, persistent message) and the
        # broker delivered it again; housekeeping had no stale job to re-send.
        for chunk_id in held_back:
            assert logs.count(f"Task facefleet.enroll_chunk[{chunk_id}] received") >= 2, (
                chunk_id,
                logs[-3000:],
            )
        assert "re-enqueued" not in logs, logs[-3000:]
        # Celery's consumer retries its connection every 2, 4, 6... s (kombu's default
        # steps, up to 30 s): most of the recovery time is that wait, not FaceFleet's.
        reconnect_seconds = [
            (last_reconnect(stack.worker_log(f"w{index}")) - back_at_clock).total_seconds()
            for index in (1, 2)
        ]
        items = job["result"]["items"]
        assert sorted(item["index"] for item in items) == list(range(BATCH)), [
            item["index"] for item in items
        ]
        assert all(item["status"] in ("added", "duplicate", "rejected") for item in items)
        # A broker outage is no reason to reject an image: only the images' own faults remain.
        broker_rejections = [item for item in items if item.get("reason") in ("unavailable", "internal")]
        assert not broker_rejections, broker_rejections
        enrolled = [face["face_id"] for item in items for face in item.get("faces", [])]
        assert len(enrolled) == len(set(enrolled)), "a face was reported twice"
        assert sorted(client.face_ids("restart")) == sorted(enrolled)
        assert job["result"]["faces_added"] == sum(
            len(i.get("faces", [])) for i in items if i["status"] == "added"
        )

        # The same API and workers serve new jobs without a restart.
        recovered = time.monotonic()
        response = client.add_face("restart", spare)
        assert response.status_code == 200, response.get_json()
        rerun = client.wait_job(client.enroll_batch("restart", photos[:4])["job_id"], timeout=60)
        assert rerun["status"] == "succeeded", rerun
        new_jobs_seconds = time.monotonic() - recovered
        assert "Traceback" not in str(job) + str(rerun)

        rejected = sum(item["status"] == "rejected" for item in items)
        print(
            f"\nbroker stopped at {done_at_stop}/{BATCH} done ({done_while_down} when it came back); "
            f"refusals while down: {', '.join(f'{k} {v:.2f} s' for k, v in refusal_seconds.items())}; "
            f"outage {outage_seconds:.1f} s; {len(held_back)} chunk(s) held back and redelivered; workers "
            f"reconnected {', '.join(f'{seconds:.1f}' for seconds in reconnect_seconds)} s after the broker was back; "
            f"queues after start_app {queues_after_restart}; batch {finished - started:.1f} s, done "
            f"{finished - back_at:.1f} s after the broker was back: {len(enrolled)} faces, {rejected} per-item "
            f"errors; new add-face + 4-image batch {new_jobs_seconds:.1f} s"
        )
