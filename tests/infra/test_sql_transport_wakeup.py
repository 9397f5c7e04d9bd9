"""The embedded SQL broker transport wakes its consumer when a message is stored, instead
of leaving it to its poll (infra/sql_transport.py, infra/wakeup.py)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from kombu import Connection, Consumer, Exchange, Producer, Queue

from infra.sql_transport import embedded_broker_url, register

SLOW_POLL = 5.0


def test_a_published_message_reaches_a_waiting_consumer_long_before_its_poll(tmp_path: Path) -> None:
    register()
    url = embedded_broker_url(f"sqla+sqlite:///{tmp_path / 'broker.db'}")
    queue = Queue("wakeup-test", Exchange("wakeup-test", type="direct"), routing_key="wakeup-test")
    options = {"polling_interval": SLOW_POLL}
    received: list[float] = []
    with Connection(url, transport_options=options) as consuming, Connection(url, transport_options=options) as sending:
        def on_message(body: object, message: object) -> None:
            received.append(time.monotonic())
            message.ack()  # type: ignore[attr-defined]

        with Consumer(consuming, [queue], callbacks=[on_message]):
            waiter = threading.Thread(target=lambda: consuming.drain_events(timeout=SLOW_POLL * 3))
            waiter.start()
            time.sleep(1.0)  # the consumer has polled once and now sleeps on its socket
            sent = time.monotonic()
            Producer(sending).publish({"n": 1}, exchange=queue.exchange, routing_key="wakeup-test", declare=[queue])
            waiter.join()
    assert received, "the message never arrived"
    assert received[0] - sent < SLOW_POLL / 5, received[0] - sent


def test_the_worker_event_loop_is_woken_by_a_stored_message_long_before_its_poll_timer(tmp_path: Path) -> None:
    """How a Celery worker consumes (the transport's event-loop support): the wake-up socket
    is a reader of the loop, so a message is taken at once, not at the next timer tick."""
    from kombu.asynchronous import Hub

    register()
    url = embedded_broker_url(f"sqla+sqlite:///{tmp_path / 'broker.db'}")
    queue = Queue("loop-test", Exchange("loop-test", type="direct"), routing_key="loop-test")
    options = {"polling_interval": SLOW_POLL}
    received: list[float] = []
    hub = Hub()
    with Connection(url, transport_options=options) as consuming, Connection(url, transport_options=options) as sending:
        def on_message(body: object, message: object) -> None:
            received.append(time.monotonic())
            message.ack()  # type: ignore[attr-defined]

        with Consumer(consuming, [queue], callbacks=[on_message]):
            consuming.transport.register_with_event_loop(consuming.connection, hub)
            loop = hub.create_loop()
            next(loop)
            sent = time.monotonic()
            Producer(sending).publish({"n": 1}, exchange=queue.exchange, routing_key="loop-test", declare=[queue])
            deadline = sent + SLOW_POLL * 2
            while not received and time.monotonic() < deadline:
                next(loop)
    hub.close()
    assert received, "the message never arrived"
    assert received[0] - sent < SLOW_POLL / 5, received[0] - sent
