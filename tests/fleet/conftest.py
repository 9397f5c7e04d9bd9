"""Fleet-signal tests run on the real local RabbitMQ, in a vhost of their own.

A fresh vhost per session keeps our queues, exchanges and counts away from every other
test and engineer using the same broker; it is deleted at the end.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator

import pika
import pytest

BROKER_HOST = "127.0.0.1:5672"


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    if shutil.which("rabbitmqctl") is None:
        pytest.fail("rabbitmqctl is required to create the test vhost (RabbitMQ must run locally)")
    vhost = f"facefleet-fleet-{uuid.uuid4().hex[:8]}"
    _rabbitmqctl("add_vhost", vhost)
    try:
        _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        url = f"amqp://guest:guest@{BROKER_HOST}/{vhost}"
        pika.BlockingConnection(pika.URLParameters(url)).close()  # fail loudly if unreachable
        yield url
    finally:
        _rabbitmqctl("delete_vhost", vhost)
