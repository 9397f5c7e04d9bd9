"""What the embedded broker file holds (infra/sql_transport.py).

- Workers that start together on a fresh broker file all declare the same queues. kombu's
  SQL transport creates its tables and queue rows under a thread lock only, so one of two
  processes lost the race and stopped at start: the embedded stack then ran with one
  worker fewer, silently.
- A taken message leaves no row behind: upstream kept every payload (inline probe photos
  included) for good, marked invisible.
"""

from __future__ import annotations

import base64
import json
import multiprocessing
from pathlib import Path
from typing import Any

import msgpack
from kombu import Connection, Consumer, Exchange, Producer, Queue
from sqlalchemy import create_engine, text

from infra.sql_transport import embedded_broker_url, register

PROCESSES = 6
ROUNDS = 4


def _declare_when_released(url: str, names: list[str], barrier: object, errors: object) -> None:
    register()
    try:
        with Connection(url) as connection:
            channel = connection.channel()
            barrier.wait(timeout=30)  # type: ignore[attr-defined]
            for name in names:
                Queue(name, Exchange(name, type="direct"), routing_key=name)(channel).declare()
    except Exception as error:  # noqa: BLE001 - every failure is the finding
        errors.put(repr(error))  # type: ignore[attr-defined]


def test_processes_declaring_the_same_queues_at_once_all_succeed(tmp_path: Path) -> None:
    register()
    context = multiprocessing.get_context("spawn")
    names = ["facefleet.interactive", "facefleet.batch", "facefleet.maintenance"]
    for round_ in range(ROUNDS):
        url = embedded_broker_url(f"sqla+sqlite:///{tmp_path / f'broker-{round_}.db'}")
        if round_ % 2:  # the tables exist but no queue row yet; otherwise a brand-new file
            with Connection(url) as setup:
                setup.channel().session  # noqa: B018 - opening the session creates the tables
        barrier = context.Barrier(PROCESSES)
        errors = context.Queue()
        started = [
            context.Process(target=_declare_when_released, args=(url, names, barrier, errors))
            for _ in range(PROCESSES)
        ]
        for process in started:
            process.start()
        for process in started:
            process.join(timeout=60)
        found = []
        while not errors.empty():
            found.append(errors.get())
        assert not found, f"round {round_}: {found}"
        assert all(process.exitcode == 0 for process in started)
        with Connection(url) as check:
            channel = check.channel()
            queues = channel.session.query(channel.queue_cls).all()
            assert sorted(q.name for q in queues) == sorted(names)  # one row each


def _take(connection: Connection, queue: Queue, count: int, then: str = "ack") -> list[str]:
    """The probes of the next ``count`` messages of ``queue``, each then acknowledged,
    requeued, or (any other ``then``) left unacknowledged."""
    return [body["probe"] for body in _take_bodies(connection, queue, count, then)]


def _take_bodies(connection: Connection, queue: Queue, count: int, then: str = "ack") -> list[Any]:
    taken: list[Any] = []

    def on_message(body: Any, message: object) -> None:
        taken.append(body)
        if then == "ack":
            message.ack()  # type: ignore[attr-defined]
        elif then == "requeue":
            message.requeue()  # type: ignore[attr-defined]

    with Consumer(connection, [queue], callbacks=[on_message], accept=["json", "msgpack"]):
        while len(taken) < count:
            connection.drain_events(timeout=5)
    return taken


def test_a_consumed_message_leaves_no_row_and_its_payload_is_gone(tmp_path: Path) -> None:
    register()
    database = tmp_path / "broker.db"
    url = embedded_broker_url(f"sqla+sqlite:///{database}")
    queue = Queue("probe-jobs", Exchange("probe-jobs", type="direct"), routing_key="probe-jobs")
    secret = "inline-probe-" + "x" * 4096
    with Connection(url) as connection:
        producer = Producer(connection)
        for index in range(3):
            producer.publish({"probe": f"{secret}-{index}"}, exchange=queue.exchange, routing_key="probe-jobs", declare=[queue])
        received = _take(connection, queue, 3)
        assert connection.channel()._size("probe-jobs") == 0
    assert received == [f"{secret}-{index}" for index in range(3)]  # in order, each once
    with create_engine(f"sqlite:///{database}").connect() as check:
        assert check.execute(text("SELECT count(*) FROM kombu_message")).scalar() == 0


def test_an_empty_queue_is_polled_without_waiting_for_the_write_lock(tmp_path: Path) -> None:
    """Consumers poll every queue on a timer; a poll that finds nothing must not queue up
    behind a writer (the API sending a job), as upstream's BEGIN IMMEDIATE per poll did."""
    import sqlite3
    import time
    from queue import Empty

    import pytest

    register()
    database = tmp_path / "broker.db"
    url = embedded_broker_url(f"sqla+sqlite:///{database}")
    with Connection(url, transport_options={"connect_args": {"timeout": 3}}) as connection:
        channel = connection.channel()
        Queue("idle", Exchange("idle", type="direct"), routing_key="idle")(channel).declare()
        writer = sqlite3.connect(database, timeout=0, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        try:
            started = time.monotonic()
            with pytest.raises(Empty):
                channel._get("idle")
            assert time.monotonic() - started < 1.0  # the busy timeout (3 s) was never waited out
        finally:
            writer.execute("ROLLBACK")
            writer.close()


def test_a_wake_up_takes_from_the_queue_it_names_first(tmp_path: Path) -> None:
    """A consumer serving several queues polls the one a wake-up names before the others
    (its fair cycle would try the older queue first, about a millisecond each)."""
    register()
    url = embedded_broker_url(f"sqla+sqlite:///{tmp_path / 'broker.db'}")
    queues = [Queue(name, Exchange(name, type="direct"), routing_key=name) for name in ("older", "named")]
    received: list[str] = []
    options = {"polling_interval": 60}  # nothing but the wake-up delivers within the test
    with Connection(url, transport_options=options) as consuming, Connection(url) as sending:
        def on_message(body: dict[str, str], message: object) -> None:
            received.append(body["queue"])
            message.ack()  # type: ignore[attr-defined]

        with Consumer(consuming, queues, callbacks=[on_message]):
            transport = consuming.transport
            wakeups = transport._wakeups()
            producer = Producer(sending)
            producer.publish({"queue": "older"}, exchange=queues[0].exchange, routing_key="older", declare=[queues[0]])
            wakeups.drain()  # that wake-up was missed: its message waits for a poll
            producer.publish({"queue": "named"}, exchange=queues[1].exchange, routing_key="named", declare=[queues[1]])
            transport._woken(consuming.connection, wakeups)
    assert received == ["named", "older"]  # the named queue first, then the rest as before


def test_rows_an_older_version_left_hidden_are_deleted_when_the_broker_file_is_opened(tmp_path: Path) -> None:
    """Upstream's transport kept every taken message as an invisible row; a broker file from
    before this fix still holds them (with inline probe photos) until a process opens it."""
    from kombu.transport.sqlalchemy import Channel as UpstreamChannel

    database = tmp_path / "broker.db"
    upstream_url = f"sqla+sqlite:///{database}"
    queue = Queue("old-jobs", Exchange("old-jobs", type="direct"), routing_key="old-jobs")
    with Connection(upstream_url) as old:
        channel = old.channel()
        assert type(channel).__mro__[0] is UpstreamChannel  # the plain upstream transport
        producer = Producer(channel)
        for index in range(3):
            producer.publish({"probe": f"old-photo-{index}"}, exchange=queue.exchange, routing_key="old-jobs", declare=[queue])
        channel._get("old-jobs")
        channel._get("old-jobs")  # two taken: upstream hides their rows
    with create_engine(f"sqlite:///{database}").connect() as check:
        assert check.execute(text("SELECT count(*) FROM kombu_message")).scalar() == 3

    register()
    UpstreamChannel._engines.clear()  # as in a new process
    with Connection(embedded_broker_url(upstream_url)) as new:
        new.channel().session  # noqa: B018 - opening the file is what cleans it
    with create_engine(f"sqlite:///{database}").connect() as check:
        payloads = [row[0] for row in check.execute(text("SELECT payload FROM kombu_message"))]
    bodies = [json.loads(base64.b64decode(json.loads(payload)["body"])) for payload in payloads]
    assert bodies == [{"probe": "old-photo-2"}]  # the one still waiting stays


def test_a_message_is_stored_as_msgpack_with_its_body_as_itself_and_an_upstream_json_row_still_decodes(
    tmp_path: Path,
) -> None:
    """A message sits in its broker row as msgpack bytes, its body as sent: a JSON envelope
    needs a binary body (a task with its probe photo) as base64 text, which upstream also
    did to JSON bodies, so a probe was encoded twice. A message that upstream or an earlier
    release queued as a JSON envelope, its body base64-encoded, is still read."""
    from kombu.transport.sqlalchemy import Channel as UpstreamChannel

    database = tmp_path / "broker.db"
    upstream_url = f"sqla+sqlite:///{database}"
    queue = Queue("jobs", Exchange("jobs", type="direct"), routing_key="jobs")
    with Connection(upstream_url) as old:
        Producer(old.channel()).publish(
            {"probe": "queued-before"}, exchange=queue.exchange, routing_key="jobs", declare=[queue]
        )

    register()
    UpstreamChannel._engines.clear()  # as in a new process
    probe = base64.b64encode(bytes(range(256)) * 64).decode()
    photo = bytes(range(256)) * 64
    with Connection(embedded_broker_url(upstream_url)) as connection:
        producer = Producer(connection)
        producer.publish({"probe": probe}, exchange=queue.exchange, routing_key="jobs", declare=[queue])
        producer.publish(
            {"photo": photo},
            exchange=queue.exchange,
            routing_key="jobs",
            declare=[queue],
            serializer="msgpack",
        )
        with create_engine(f"sqlite:///{database}").connect() as check:
            rows = [row[0] for row in check.execute(text("SELECT payload FROM kombu_message ORDER BY id"))]
        upstream_row, json_row, msgpack_row = rows
        assert json.loads(upstream_row)["properties"]["body_encoding"] == "base64"
        assert isinstance(json_row, bytes) and isinstance(msgpack_row, bytes)  # BLOBs
        json_message, msgpack_message = (msgpack.unpackb(row, raw=False) for row in (json_row, msgpack_row))
        assert json.loads(json_message["body"]) == {"probe": probe}  # not encoded a second time
        assert msgpack.unpackb(msgpack_message["body"]) == {"photo": photo}  # the photo's own bytes
        assert len(msgpack_row) < len(photo) + 1024
        received = _take_bodies(connection, queue, 3)
    assert received == [{"probe": "queued-before"}, {"probe": probe}, {"photo": photo}]


def test_a_message_given_back_unacknowledged_is_delivered_again_whole(tmp_path: Path) -> None:
    """A requeued message (a killed pool child's job, rejected) and one restored when its
    consumer closes (a worker that stops with the job unacknowledged) go back as they came:
    kombu hands them back with the body already turned into bytes."""
    register()
    url = embedded_broker_url(f"sqla+sqlite:///{tmp_path / 'broker.db'}")
    queue = Queue("jobs", Exchange("jobs", type="direct"), routing_key="jobs")
    probe = base64.b64encode(bytes(range(256)) * 16).decode()
    with Connection(url) as connection:
        Producer(connection).publish(
            {"probe": probe}, exchange=queue.exchange, routing_key="jobs", declare=[queue]
        )
    with Connection(url) as connection:
        assert _take(connection, queue, 1, then="requeue") == [probe]
    with Connection(url) as connection:  # restored when it closes
        assert _take(connection, queue, 1, then="leave unacknowledged") == [probe]
    with Connection(url) as connection:
        assert _take(connection, queue, 1) == [probe]
        assert connection.channel()._size("jobs") == 0


def test_a_msgpack_body_travels_whole_even_when_its_bytes_read_as_text(tmp_path: Path) -> None:
    """Task messages are msgpack (infra/celery_config.py). A body of raw bytes (a probe's
    photo) is stored base64-encoded, one whose bytes happen to be valid UTF-8 (msgpack writes
    a small int as one ASCII byte) as text; both come back as the value sent: fresh,
    requeued, and restored when the consumer closes."""
    register()
    url = embedded_broker_url(f"sqla+sqlite:///{tmp_path / 'broker.db'}")
    queue = Queue("jobs", Exchange("jobs", type="direct"), routing_key="jobs")
    sent = [{"probe": bytes(range(256)) * 16}, 5]
    with Connection(url) as connection:
        producer = Producer(connection, serializer="msgpack")
        for body in sent:
            producer.publish(body, exchange=queue.exchange, routing_key="jobs", declare=[queue])
    for then in ("requeue", "leave unacknowledged", "ack"):
        with Connection(url) as connection:
            taken = _take_bodies(connection, queue, 2, then=then)
        assert sorted(map(repr, taken)) == sorted(map(repr, sent)), then


def _drain_until_told(url: str, ready: object, stop: object, taken: object) -> None:
    register()
    queue = Queue("shared-jobs", Exchange("shared-jobs", type="direct"), routing_key="shared-jobs")

    def on_message(body: dict[str, str], message: object) -> None:
        taken.put(body["probe"])  # type: ignore[attr-defined]
        message.ack()  # type: ignore[attr-defined]

    with Connection(url) as connection, Consumer(connection, [queue], callbacks=[on_message]):
        ready.set()  # type: ignore[attr-defined]
        while not stop.is_set():  # type: ignore[attr-defined]
            try:
                connection.drain_events(timeout=0.2)
            except TimeoutError:
                pass


def test_consumers_in_several_processes_take_each_message_once(tmp_path: Path) -> None:
    """Three processes consume one queue while it is filled: every message reaches exactly
    one of them (each take is one ``DELETE … RETURNING`` under SQLite's write lock)."""
    register()
    url = embedded_broker_url(f"sqla+sqlite:///{tmp_path / 'broker.db'}")
    queue = Queue("shared-jobs", Exchange("shared-jobs", type="direct"), routing_key="shared-jobs")
    context = multiprocessing.get_context("spawn")
    stop, taken = context.Event(), context.Queue()
    readies = [context.Event() for _ in range(3)]
    consumers = [
        context.Process(target=_drain_until_told, args=(url, ready, stop, taken)) for ready in readies
    ]
    for process in consumers:
        process.start()
    try:
        assert all(ready.wait(60) for ready in readies)
        sent = [f"probe-{index}" for index in range(90)]
        with Connection(url) as connection:
            producer = Producer(connection)
            for probe in sent:
                producer.publish(
                    {"probe": probe}, exchange=queue.exchange, routing_key="shared-jobs", declare=[queue]
                )
        received = [taken.get(timeout=30) for _ in sent]
    finally:
        stop.set()
        for process in consumers:
            process.join(timeout=30)
    assert sorted(received) == sorted(sent)  # each once: nothing lost, nothing twice
    assert taken.empty()
