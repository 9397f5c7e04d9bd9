"""Issue 11 end to end: real jobs on a stack whose broker is the local RabbitMQ publish
their events on ``facefleet.events`` and call signed webhooks when they finish."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pika
import pytest

from infra.settings import BrokerSettings, EventSettings, JobSettings, WebhookSettings
from infra.webhooks import SIGNATURE_HEADER, InvalidSignature, verify_signature
from tests.support.client import ProjectClient
from tests.support.photos import FACES, identity_photos
from tests.support.stack import Stack, start_stack

pytestmark = [pytest.mark.model, pytest.mark.integration]

BATCH_SIZE = 100


@dataclass
class FleetService:
    stack: Stack
    client: ProjectClient
    webhook_secret: str
    amqp_url: str


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory, amqp_url: str) -> Iterator[FleetService]:
    from api.app import create_app
    from facefleet.admin import create_project

    overrides = {
        "broker": BrokerSettings(url=amqp_url),
        "jobs": JobSettings(batch_chunk_size=10, sync_wait_seconds=60.0),
        "events": EventSettings(progress_min_interval_seconds=0.5),
        # The receiver runs on loopback, which is refused unless allowed explicitly.
        "webhooks": WebhookSettings(allowed_networks=["127.0.0.0/8"], backoff_seconds=0.2, backoff_max_seconds=0.5),
    }
    home: Path = tmp_path_factory.mktemp("fleet")
    with start_stack(home, workers=1, concurrency=2, **overrides) as stack:
        created = create_project(stack.settings, "fleet")
        client = ProjectClient(create_app(stack.settings).test_client(), created.project_id, created.api_key)
        yield FleetService(stack, client, created.webhook_secret, amqp_url)


@contextmanager
def bound_queue(amqp_url: str, routing_key: str) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """A consumer's own queue bound to the events exchange (what the README shows)."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    channel.exchange_declare("facefleet.events", exchange_type="topic", durable=True)
    queue = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(queue, "facefleet.events", routing_key=routing_key)

    def drain() -> list[dict[str, Any]]:
        events = []
        while True:
            method, _properties, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return events
            events.append({"routing_key": method.routing_key, **json.loads(body)})

    try:
        yield drain
    finally:
        connection.close()


def test_a_bound_consumer_receives_every_event_of_a_100_image_batch_in_order(fleet: FleetService) -> None:
    client = fleet.client
    photos = sorted(p for p in FACES.glob("*/*.jpg") if not p.parent.name.startswith("_"))
    photos = (photos * 2)[:BATCH_SIZE]
    face_set = f"events_{uuid.uuid4().hex[:6]}"
    client.create_face_set(face_set)
    with bound_queue(fleet.amqp_url, f"project.{client.project_id}.job.#") as drain:
        job_id = client.enroll_batch(face_set, photos, select="largest")["job_id"]
        job = client.wait_job(job_id, timeout=600)
        assert job["status"] == "succeeded", job
        time.sleep(1.0)  # the final event is published right after the row is written
        events = [event for event in drain() if event["job_id"] == job_id]

    states = [event["state"] for event in events]
    assert states[0] == "accepted" and states[1] == "running" and states[-1] == "succeeded", states
    assert states.count("succeeded") == 1 and "failed" not in states
    progress = [event["progress"]["done"] for event in events if event["state"] == "progress"]
    assert progress, "no progress event for a 100-image batch"
    assert progress == sorted(progress) and max(progress) <= BATCH_SIZE
    assert all(event["routing_key"] == f"project.{client.project_id}.job.enroll_batch.{event['state']}" for event in events)
    final = events[-1]
    assert final["summary"]["total"] == BATCH_SIZE
    assert "items" not in final["summary"]  # events carry counts, never per-item payloads or vectors
    assert all(len(json.dumps(event)) < 4096 for event in events)


@contextmanager
def receiver(secret: str, respond: Callable[[int], int]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    calls: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            try:
                verify_signature(secret, self.headers[SIGNATURE_HEADER], body)
                valid = True
            except InvalidSignature:
                valid = False
            status = respond(len(calls) + 1)
            calls.append({"body": json.loads(body), "valid": valid, "status": status})
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/facefleet", calls
    finally:
        server.shutdown()
        server.server_close()


def _detect_async(client: ProjectClient, callback_url: str) -> Any:
    photo = identity_photos("face_recognition-obama")[0]
    return client.call(
        "POST",
        "/face-detect",
        data={"image_file": (photo.open("rb"), photo.name)},
        content_type="multipart/form-data",
        query_string={"async": "true"},
        headers={"X-Callback-Url": callback_url},
    )


def _wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_finished_job_calls_its_webhook_with_a_valid_signature(fleet: FleetService) -> None:
    with receiver(fleet.webhook_secret, lambda _n: 204) as (url, calls):
        response = _detect_async(fleet.client, url)
        assert response.status_code == 202, response.get_json()
        job_id = response.get_json()["job_id"]
        _wait_for(lambda: len(calls) >= 1)
    assert len(calls) == 1 and calls[0]["valid"] is True
    assert calls[0]["body"]["job_id"] == job_id and calls[0]["body"]["state"] == "succeeded"
    _wait_for(lambda: (fleet.client.job(job_id).get("webhook") or {}).get("delivered") is True, timeout=20)


def test_a_receiver_failing_twice_gets_exactly_one_accepted_delivery(fleet: FleetService) -> None:
    with receiver(fleet.webhook_secret, lambda n: 503 if n <= 2 else 200) as (url, calls):
        job_id = _detect_async(fleet.client, url).get_json()["job_id"]
        _wait_for(lambda: (fleet.client.job(job_id).get("webhook") or {}).get("delivered") is True)
    assert [call["status"] for call in calls] == [503, 503, 200]
    assert all(call["valid"] for call in calls)
    report = fleet.client.job(job_id)["webhook"]
    assert [attempt["status_code"] for attempt in report["attempts"]] == [503, 503, 200]


@pytest.mark.parametrize(
    "url",
    ["http://10.1.2.3/hook", "http://169.254.169.254/latest/meta-data", "ftp://example.com/x", "http://[::1]:80/"],
)
def test_a_disallowed_callback_url_is_rejected_when_the_job_is_submitted(fleet: FleetService, url: str) -> None:
    response = _detect_async(fleet.client, url)
    assert response.status_code == 400
    assert response.get_json()["error_code"] == "FRS.0132"
