"""What a dispatched job's task message carries (core.messages.dispatch through FaceFleet's
Celery configuration), read back from a kombu queue."""

from __future__ import annotations

from typing import Any

from kombu import Consumer, Queue

from core.jobs import JobKind
from core.messages import ENQUEUED_AT_HEADER, dispatch
from core.queues import queue_for
from infra.celery_config import make_celery
from infra.settings import BrokerSettings, Settings


def test_the_message_names_the_job_not_its_payload() -> None:
    """Celery shows ``argsrepr`` in its monitoring; a payload's person id or probe bytes
    stay in the body only."""
    producer = make_celery(Settings(broker=BrokerSettings(url="memory://")), main="test.argsrepr")
    payload = {
        "project_id": "p1",
        "face_set_id": "s1",
        "external_image_id": "Jane Doe",
        "inline_images": {"k": b"\xff\xd8" * 100},
    }
    received: list[tuple[Any, Any]] = []
    with producer.connection_for_write() as connection:
        queue = Queue(queue_for(JobKind.ENROLL).value, channel=connection.default_channel)
        queue.declare()
        dispatch(producer, JobKind.ENROLL, "job-1", payload)
        keep = [lambda body, message: received.append((body, message))]
        with Consumer(connection, [queue], callbacks=keep, accept=producer.conf.accept_content):
            connection.drain_events(timeout=5)
    ((body, message),) = received
    headers = message.headers
    assert headers["id"] == "job-1" and ENQUEUED_AT_HEADER in headers
    assert headers["argsrepr"] == "['job-1', <enroll payload>]"
    assert headers["kwargsrepr"] == "{}"
    assert "Jane" not in repr(headers)
    args, kwargs, _ = body
    assert args == ["job-1", payload] and kwargs == {}
