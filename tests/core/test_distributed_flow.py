"""The same flows on the distributed stack: RabbitMQ, PostgreSQL, a Milvus server and an
S3 server (moto), with real worker processes."""

from __future__ import annotations

import pytest

from tests.core import scenarios
from tests.core.conftest import Service

pytestmark = [pytest.mark.model, pytest.mark.integration]


def test_enroll_then_search_finds_the_face(distributed: Service) -> None:
    scenarios.enroll_then_search_finds_the_face(distributed)


def test_delete_then_search_misses(distributed: Service) -> None:
    scenarios.delete_then_search_misses(distributed)


def test_redelivered_enrollment_is_a_no_op(distributed: Service) -> None:
    scenarios.redelivered_enrollment_is_a_no_op(distributed)


@pytest.mark.slow
def test_worker_killed_mid_batch_loses_and_duplicates_nothing(distributed: Service) -> None:
    # RabbitMQ redelivers the unacknowledged message (acks_late) to the new worker.
    scenarios.worker_killed_mid_batch_loses_and_duplicates_nothing(distributed)


def test_reconciliation_removes_what_a_crash_left_and_keeps_live_faces(distributed: Service) -> None:
    scenarios.reconciliation_removes_what_a_crash_left_and_keeps_live_faces(distributed)
