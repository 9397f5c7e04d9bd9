"""GPU-worthy jobs go to the GPU queue while a GPU pool consumes it, and back to the CPU
queues as soon as none does (real RabbitMQ)."""

from __future__ import annotations

import time

import pytest
from kombu import Connection, Consumer, Exchange, Queue

from core.jobs import JobKind
from core.messages import dispatch
from core.queues import QueueName, queue_for
from infra.celery_config import MAX_PRIORITY, make_celery
from infra.gpu_pool import GpuRouting
from infra.settings import BrokerSettings, PipelineSettings, Settings

pytestmark = pytest.mark.integration


def _queue(name: str) -> Queue:
    return Queue(
        name,
        Exchange("facefleet", type="direct", durable=True),
        routing_key=name,
        durable=True,
        queue_arguments={"x-max-priority": MAX_PRIORITY},
    )


def _ready(connection: Connection, name: str) -> int:
    return int(connection.default_channel.queue_declare(name, passive=True).message_count)


def test_routing_follows_whether_a_gpu_pool_consumes(amqp_url: str) -> None:
    settings = Settings(
        broker=BrokerSettings(url=amqp_url),
        pipeline=PipelineSettings(gpu_pool=True, embedding_backend="onnx"),
    )
    producer = make_celery(settings, main="test.gpu")
    with Connection(amqp_url) as connection:
        for name in (QueueName.GPU.value, QueueName.INTERACTIVE.value, QueueName.MAINTENANCE.value):
            _queue(name)(connection.default_channel).declare()
            connection.default_channel.queue_purge(name)  # the vhost is shared with other fleet tests

        no_pool = GpuRouting(settings)
        assert no_pool.available() is False
        dispatch(producer, JobKind.DETECT, "job-cpu", {"image_key": "k"}, no_pool.available())
        assert _ready(connection, QueueName.INTERACTIVE.value) == 1

        with Connection(amqp_url) as pool_connection:
            consumer = Consumer(
                pool_connection.channel(),
                [_queue(QueueName.GPU.value)],
                callbacks=[lambda _body, _message: None],
                accept=producer.conf.accept_content,  # task messages are msgpack
            )
            consumer.consume()  # a GPU pool attaches (it never acks; we only count)
            routing = GpuRouting(settings)
            assert routing.available() is True
            dispatch(producer, JobKind.DETECT, "job-gpu", {"image_key": "k"}, routing.available())
            # Deletes are not inference: they stay on their own queue even with a GPU pool.
            dispatch(
                producer,
                JobKind.DELETE_FACES,
                "job-del",
                {"project_id": "p", "face_set_id": "s", "face_ids": []},
                routing.available(),
            )
            time.sleep(0.3)
            assert _ready(connection, QueueName.MAINTENANCE.value) == 1
            consumer.cancel()
        assert _ready(connection, QueueName.GPU.value) == 1  # the unacked message went back


def test_gpu_routing_is_off_unless_switched_on_and_the_pipeline_can_use_a_gpu() -> None:
    dlib_only = PipelineSettings(gpu_pool=True, embedding_backend="dlib", detector="hog")
    assert (
        GpuRouting(Settings(pipeline=dlib_only, broker=BrokerSettings(url="amqp://x/"))).available() is False
    )
    assert GpuRouting(Settings(pipeline=PipelineSettings(gpu_pool=False))).available() is False
    assert queue_for(JobKind.ENROLL, True) is QueueName.GPU
    assert queue_for(JobKind.LIVENESS, True) is QueueName.LIVENESS
    assert queue_for(JobKind.ENROLL, False) is QueueName.ENROLL
