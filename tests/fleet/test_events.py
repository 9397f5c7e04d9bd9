"""Job events on the real RabbitMQ (own vhost): confirmed, persistent, ordered per job."""

from __future__ import annotations

import itertools
import json
import subprocess
import time
import uuid
from collections import defaultdict
from typing import Any

import pika
import pytest

from infra.events import (
    JobEvent,
    JobState,
    LogEventPublisher,
    PikaEventPublisher,
    ProgressThrottle,
    pika_parameters,
    summarize_result,
)

EXCHANGE = "facefleet.events"
BATCH_SIZE = 100
CHUNK_SIZE = 16


def _bind_queue(channel: Any, pattern: str) -> str:
    channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)
    queue = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(queue, EXCHANGE, routing_key=pattern)
    return str(queue)


def _drain(channel: Any, queue: str, expected: int, timeout: float = 30) -> list[tuple[Any, Any, bytes]]:
    received: list[tuple[Any, Any, bytes]] = []
    deadline = time.monotonic() + timeout
    while len(received) < expected and time.monotonic() < deadline:
        method, properties, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            time.sleep(0.05)
            continue
        received.append((method, properties, body))
    return received


def _simulate_batch(
    publisher: PikaEventPublisher, project_id: str, parent: str
) -> dict[str, list[tuple[str, Any]]]:
    """Drive the publisher the way job execution does for a 100-image batch: the parent is
    accepted and running, chunk jobs run one after the other reporting per-item progress,
    the parent's progress follows every item, and the last chunk completes the parent."""
    published: dict[str, list[tuple[str, Any]]] = defaultdict(list)

    def emit(event: JobEvent) -> None:
        assert publisher.publish(event) is True
        published[event.job_id].append((event.state.value, event.progress))

    emit(JobEvent.create(parent, project_id, "enroll_batch", JobState.ACCEPTED))
    emit(JobEvent.create(parent, project_id, "enroll_batch", JobState.RUNNING))
    emit(JobEvent.create(parent, project_id, "enroll_batch", JobState.PROGRESS, progress=(0, BATCH_SIZE)))
    chunk_starts = range(0, BATCH_SIZE, CHUNK_SIZE)
    chunk_ids = [f"{parent}.c{i:05d}" for i in range(len(chunk_starts))]
    for chunk_id in chunk_ids:
        emit(JobEvent.create(chunk_id, project_id, "enroll_chunk", JobState.ACCEPTED))
    done = 0
    for chunk_id, start in zip(chunk_ids, chunk_starts, strict=True):
        stop = min(start + CHUNK_SIZE, BATCH_SIZE)
        emit(JobEvent.create(chunk_id, project_id, "enroll_chunk", JobState.RUNNING))
        for index in range(start, stop):
            done += 1
            emit(
                JobEvent.create(
                    chunk_id,
                    project_id,
                    "enroll_chunk",
                    JobState.PROGRESS,
                    progress=(index + 1 - start, stop - start),
                )
            )
            emit(
                JobEvent.create(
                    parent, project_id, "enroll_batch", JobState.PROGRESS, progress=(done, BATCH_SIZE)
                )
            )
        items = [
            {"index": i, "status": "added", "faces": [{"embedding": [0.1] * 128}]} for i in range(start, stop)
        ]
        emit(
            JobEvent.create(chunk_id, project_id, "enroll_chunk", JobState.SUCCEEDED, result={"items": items})
        )
    summary = {
        "total": BATCH_SIZE,
        "added": 97,
        "rejected": 3,
        "rejected_by_reason": {"no_face": 3},
        "items": [{"index": i, "faces": [{"embedding": [0.2] * 128}]} for i in range(BATCH_SIZE)],
    }
    emit(JobEvent.create(parent, project_id, "enroll_batch", JobState.SUCCEEDED, result=summary))
    return published


@pytest.mark.integration
def test_bound_consumer_receives_every_event_of_a_batch_in_order(amqp_url: str) -> None:
    project_id = f"p{uuid.uuid4().hex[:6]}"
    consumer = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = consumer.channel()
    queue = _bind_queue(channel, f"project.{project_id}.job.#")
    other_project = _bind_queue(channel, "project.someone-else.job.#")

    publisher = PikaEventPublisher(amqp_url, progress_min_interval_seconds=0)
    published = _simulate_batch(publisher, project_id, parent=f"job-{uuid.uuid4().hex[:8]}")
    publisher.close()
    total = sum(len(events) for events in published.values())
    assert publisher.stats.published == total and publisher.stats.failed == 0
    # parent accepted/running/progress 0, chunks accepted + running, per-item progress of chunk and
    # parent, chunks succeeded, parent succeeded
    assert total == 3 + 7 + 7 + BATCH_SIZE + BATCH_SIZE + 7 + 1

    received = _drain(channel, queue, total)
    assert len(received) == total
    assert channel.basic_get(queue, auto_ack=True)[0] is None  # nothing extra
    assert channel.basic_get(other_project, auto_ack=True)[0] is None  # routing isolates projects
    consumer.close()

    by_job: dict[str, list[tuple[str, Any]]] = defaultdict(list)
    for method, properties, body in received:
        event = json.loads(body)
        assert properties.delivery_mode == 2 and properties.content_type == "application/json"
        assert method.routing_key == f"project.{project_id}.job.{event['kind']}.{event['state']}"
        progress = event["progress"]
        by_job[event["job_id"]].append(
            (event["state"], None if progress is None else (progress["done"], progress["total"]))
        )
        assert b"embedding" not in body and b"faces" not in body
        if event["state"] == "succeeded" and event["kind"] == "enroll_batch":
            assert event["summary"] == {
                "total": 100,
                "added": 97,
                "rejected": 3,
                "rejected_by_reason": {"no_face": 3},
                "items_count": 100,
            }
    assert dict(by_job) == dict(published)


@pytest.mark.integration
def test_publisher_reconnects_after_the_broker_drops_it(amqp_url: str) -> None:
    vhost = amqp_url.rsplit("/", 1)[1]
    setup = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = setup.channel()
    channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)
    channel.queue_declare("fleet-test.reconnect", durable=True)
    channel.queue_bind("fleet-test.reconnect", EXCHANGE, routing_key="project.reconnect.#")
    setup.close()

    publisher = PikaEventPublisher(amqp_url)
    assert publisher.publish(JobEvent.create("j1", "reconnect", "enroll", JobState.RUNNING))
    subprocess.run(
        ["rabbitmqctl", "-q", "close_all_connections", "-p", vhost, "test: drop publisher"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    time.sleep(0.5)
    assert publisher.publish(
        JobEvent.create("j1", "reconnect", "enroll", JobState.FAILED, error=("no_face", "no face"))
    )
    assert publisher.stats.reconnects == 1 and publisher.stats.failed == 0
    publisher.close()

    reader = pika.BlockingConnection(pika.URLParameters(amqp_url))
    received = _drain(reader.channel(), "fleet-test.reconnect", 2)
    reader.channel().queue_delete("fleet-test.reconnect")
    reader.close()
    states = [json.loads(body)["state"] for _m, _p, body in received]
    assert states == ["running", "failed"]
    assert json.loads(received[1][2])["error"] == {"code": "no_face", "message": "no face"}


@pytest.mark.integration
def test_unreachable_broker_never_fails_the_caller() -> None:
    publisher = PikaEventPublisher("amqp://guest:guest@127.0.0.1:1/", connect_timeout_seconds=1)
    started = time.monotonic()
    assert publisher.publish(JobEvent.create("j", "p", "detect", JobState.SUCCEEDED)) is False
    assert time.monotonic() - started < 10
    assert publisher.stats.failed == 1 and publisher.stats.published == 0


@pytest.mark.parametrize(
    ("url", "vhost"),
    [
        ("amqp://guest:guest@rabbitmq:5672//", "/"),  # the Celery spelling docker-compose.yml uses
        ("pyamqp://guest:guest@rabbitmq:5672//", "/"),
        ("amqp://guest:guest@rabbitmq:5672/", "/"),
        ("amqp://guest:guest@rabbitmq:5672", "/"),
        ("amqp://guest:guest@rabbitmq:5672/%2F", "/"),
        ("amqp://guest:guest@rabbitmq:5672/facefleet", "facefleet"),
    ],
)
def test_pika_parameters_read_the_vhost_as_kombu_does(url: str, vhost: str) -> None:
    assert pika_parameters(url, 1.0, 1.0).virtual_host == vhost


def test_progress_throttle_passes_first_last_and_one_per_interval() -> None:
    now = [0.0]
    throttle = ProgressThrottle(2.0, clock=lambda: now[0])
    passed = []
    for done in range(1, 101):
        now[0] = done * 0.1  # 10 updates per second for 10 s
        if throttle.allow("job", done, 100):
            passed.append(done)
    assert passed[0] == 1 and passed[-1] == 100
    assert len(passed) == 6  # 1, then one every 2 s, then the completing update
    assert all(b - a >= 20 for a, b in itertools.pairwise(passed[:-1]))


def test_embedded_publisher_logs_in_process_and_throttles() -> None:
    publisher = LogEventPublisher(progress_min_interval_seconds=3600)
    for done in range(1, 11):
        publisher.publish(JobEvent.create("j", "p", "enroll_batch", JobState.PROGRESS, progress=(done, 10)))
    publisher.publish(JobEvent.create("j", "p", "enroll_batch", JobState.SUCCEEDED, result={"total": 10}))
    assert [(e["state"], e["progress"]) for e in publisher.history] == [
        ("progress", {"done": 1, "total": 10}),
        ("progress", {"done": 10, "total": 10}),
        ("succeeded", None),
    ]
    assert publisher.stats.throttled == 8


def test_summaries_keep_counts_and_drop_payloads() -> None:
    result = {
        "face_id": "f-1",
        "faces": [{"embedding": [0.0] * 128}],
        "count": 2,
        "blob": "x" * 10_000,
        "scores": {"a": 0.5},
        "nested": {"embedding": [1.0]},
        "ok": True,
    }
    assert summarize_result(result) == {
        "face_id": "f-1",
        "faces_count": 1,
        "count": 2,
        "scores": {"a": 0.5},
        "ok": True,
    }
    event = JobEvent.create("j.1", "proj.x", "enroll", "succeeded", result=result)
    assert event.routing_key == "project.proj_x.job.enroll.succeeded"
