"""A read-only job computes while a helper thread marks its row running, and the row decides
what the job then does: a computation whose row was final already is dropped, and a start
that failed wins over whatever the computation did (the job is retried, not failed)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import BaseModel

from core.jobs import JobKind
from workers.execution import COMPUTE_WHILE_STARTING, compute_while_starting
from workers.services import HANDLERS

TIMEOUT = 5.0


class Answer(BaseModel):
    faces: int


class StartFailed(Exception):
    pass


@pytest.fixture
def runtime() -> Iterator[Any]:
    executor = ThreadPoolExecutor(max_workers=1)
    yield SimpleNamespace(job_starts=executor)
    executor.shutdown(wait=True)


def test_the_start_runs_while_the_computation_goes_on(runtime: Any) -> None:
    computing = threading.Event()
    started_during_computation = threading.Event()

    def start() -> str:
        assert computing.wait(TIMEOUT), "the start waited for the computation to end"
        started_during_computation.set()
        return "running row"

    def compute() -> Answer:
        computing.set()
        assert started_during_computation.wait(TIMEOUT), "the start did not run beside the computation"
        return Answer(faces=1)

    assert compute_while_starting(runtime, start, compute) == ("running row", Answer(faces=1))


def test_a_row_final_already_drops_the_result_and_the_error(runtime: Any) -> None:
    assert compute_while_starting(runtime, lambda: None, lambda: Answer(faces=1)) == (None, None)

    def broken() -> Answer:
        raise ValueError("an undecodable photo")

    assert compute_while_starting(runtime, lambda: None, broken) == (None, None)


def test_the_computation_error_stands_when_the_row_started(runtime: Any) -> None:
    def broken() -> Answer:
        raise ValueError("an undecodable photo")

    with pytest.raises(ValueError, match="undecodable"):
        compute_while_starting(runtime, lambda: "running row", broken)


def test_a_failed_start_wins_over_the_computation(runtime: Any) -> None:
    def start() -> str:
        raise StartFailed("the database went away")

    def broken() -> Answer:
        raise ValueError("an undecodable photo")

    for compute in (lambda: Answer(faces=1), broken):
        with pytest.raises(StartFailed):
            compute_while_starting(runtime, start, compute)


def test_only_kinds_whose_handler_writes_nothing_compute_before_they_start() -> None:
    writers = {JobKind.ENROLL, JobKind.ENROLL_CHUNK, JobKind.UPDATE_FACE, JobKind.CALIBRATE, JobKind.REINDEX}
    assert COMPUTE_WHILE_STARTING <= set(HANDLERS)
    assert not COMPUTE_WHILE_STARTING & writers
