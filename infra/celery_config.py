"""Celery configuration shared by the API (as a producer) and the workers (as consumers).

It builds a Celery app object with queues, delivery guarantees and publishing policy, and
imports no task: the API sends tasks by name, and ``workers.app`` registers them.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu.entity import Exchange, Queue

from core.messages import is_amqp_url
from core.queues import MAX_PRIORITY, QUEUE_NAMES, QueueName
from infra import sql_transport
from infra.settings import Settings

sql_transport.register()



def _queues() -> list[Queue]:
    exchange = Exchange("facefleet", type="direct", durable=True)  # type: ignore[no-untyped-call]
    return [
        Queue(  # type: ignore[no-untyped-call]
            name,
            exchange,
            routing_key=name,
            durable=True,
            queue_arguments={"x-max-priority": MAX_PRIORITY},
        )
        for name in QUEUE_NAMES
    ]


def celery_config(settings: Settings) -> dict[str, Any]:
    is_amqp = is_amqp_url(settings.broker.url)
    transport_options: dict[str, Any] = {}
    if is_amqp:
        transport_options["confirm_publish"] = settings.broker.confirm_publish
    return {
        "broker_url": sql_transport.embedded_broker_url(settings.broker.url),
        "broker_transport_options": transport_options,
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": 3.0,
        # Results live in the jobs table (durable, with expiry), never in rpc://.
        "result_backend": None,
        "task_ignore_result": True,
        # msgpack carries a sync probe's image as raw bytes. As JSON it was base64 text: a
        # third more bytes through the broker and the pool's pipe, and an encode, dump, load
        # and decode on the path a caller waits on (docs/BENCHMARKS.md, "Ninth pass"). JSON
        # is still accepted: a message queued by an earlier release decodes after an upgrade.
        "task_serializer": "msgpack",
        "accept_content": ["msgpack", "json"],
        "task_queues": _queues(),
        "task_default_queue": QueueName.INTERACTIVE.value,
        "task_default_exchange": "facefleet",
        "task_default_routing_key": QueueName.INTERACTIVE.value,
        "task_queue_max_priority": MAX_PRIORITY,
        "task_default_priority": 5,
        # Redelivery is safe because every write is idempotent; only then ack late.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        # A pool child loads its models and connections before it reports up (workers/warmup.py),
        # seconds on a busy machine; Celery's default 4 s would kill and restart it in a loop.
        "worker_proc_alive_timeout": 120.0,
        "task_publish_retry": True,
        "task_publish_retry_policy": {
            "max_retries": 2,
            "interval_start": 0.1,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
        "task_soft_time_limit": 600,
        "task_time_limit": 660,
        "worker_hijack_root_logger": False,
        "worker_send_task_events": False,
        "enable_utc": True,
    }


def make_celery(settings: Settings, main: str = "facefleet") -> Celery:
    app = Celery(main, set_as_current=False)
    app.conf.update(celery_config(settings))
    return app
