"""The queue-driven core in embedded mode: SQLite, local objects, milvus-lite and the SQL
broker transport, with real worker processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.core import scenarios
from tests.core.conftest import Service

pytestmark = [pytest.mark.model, pytest.mark.integration]


def test_enroll_then_search_finds_the_face(embedded: Service) -> None:
    scenarios.enroll_then_search_finds_the_face(embedded)


def test_delete_then_search_misses(embedded: Service) -> None:
    scenarios.delete_then_search_misses(embedded)


def test_redelivered_enrollment_is_a_no_op(embedded: Service) -> None:
    scenarios.redelivered_enrollment_is_a_no_op(embedded)


@pytest.mark.slow
def test_worker_killed_mid_batch_loses_and_duplicates_nothing(embedded: Service) -> None:
    # The SQL transport loses the in-flight message on kill -9: the stale-job sweep re-sends it.
    scenarios.worker_killed_mid_batch_loses_and_duplicates_nothing(embedded)


def test_updated_fields_are_what_filtered_search_sees(embedded: Service) -> None:
    scenarios.updated_fields_are_what_filtered_search_sees(embedded)


def test_live_detect_passes_a_blinking_face_and_fails_a_still_photo(embedded: Service, tmp_path: Path) -> None:
    scenarios.live_detect_passes_a_blinking_face_and_fails_a_still_photo(embedded, tmp_path)


def test_reconciliation_removes_what_a_crash_left_and_keeps_live_faces(embedded: Service) -> None:
    scenarios.reconciliation_removes_what_a_crash_left_and_keeps_live_faces(embedded)


def test_a_second_batch_is_not_stuck_behind_the_first(embedded: Service) -> None:
    scenarios.a_second_batch_is_not_stuck_behind_the_first(embedded)
