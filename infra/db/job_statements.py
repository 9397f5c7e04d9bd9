"""The statements of a sync job's row, built once and executed with each call's values.

SQLAlchemy caches a statement's compiled SQL, not the statement: building one (its clauses,
and for a CTE a proxy of every column) runs in Python on every call. For the statements
that every sync call runs (the job's insert, start, finish and read), building cost more CPU
than executing: the four took 4.4-6.4 ms of CPU a job built per call and 2.1-2.4 ms built
once (docs/BENCHMARKS.md, "Eighth pass"). So ``JobStatements`` builds them once per
repository, every changing value a bound parameter, and a call executes one with
``params(...)``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Text, bindparam, case, cast, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Executable
from sqlalchemy.sql.elements import BindParameter

from core.jobs import JobStatus
from infra.db.models import Job, JobOutcomeCount

PENDING, RUNNING, SUCCEEDED, FAILED = (status.value for status in JobStatus)
ACTIVE = (PENDING, RUNNING)
COUNT_ONE_MORE = {"count": JobOutcomeCount.count + 1}
_JOB_ID = "job_id"
# PostgreSQL refuses a NOTIFY payload of 8,000 bytes or more.
NOTIFY_PAYLOAD_LIMIT = 8000


def params(job_id: str, **values: Any) -> dict[str, Any]:
    """One execution's parameters: the job's id, and the values of the columns the statement
    sets from its parameters (``_bound``)."""
    return {_JOB_ID: job_id, **{f"set_{name}": value for name, value in values.items()}}


def _bound(*columns: str) -> dict[str, BindParameter[Any]]:
    # ``set_``: SQLAlchemy keeps a column's own name for the SET parameters it generates.
    return {name: bindparam(f"set_{name}", type_=Job.__table__.c[name].type) for name in columns}


def active_update(job_id: str | BindParameter[str], **values: Any) -> Any:
    """The update of a job while it is not final (a final job's row never changes again)."""
    return (
        update(Job)
        .where(Job.id == job_id, Job.status.in_(ACTIVE))
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def _active_update(**values: Any) -> Any:
    """``active_update`` of the job given at execution as ``job_id`` (``params``)."""
    return active_update(bindparam(_JOB_ID), **values)


_OUTCOME_VALUES: dict[str, dict[str, Any]] = {
    SUCCEEDED: {
        "status": SUCCEEDED,
        "progress_done": func.coalesce(Job.progress_total, Job.progress_done),
        **_bound("result", "finished_at", "expires_at", "updated_at"),
    },
    FAILED: {
        "status": FAILED,
        **_bound("error_code", "error_message", "error_details", "finished_at", "expires_at", "updated_at"),
    },
}


class JobStatements:
    """The hot statements of one database's jobs table.

    - ``insert_if_absent``: executed with the new row's column values; returns the row, or
      nothing when the id or the project's idempotency key was taken.
    - ``read`` and ``start`` (the running row, or nothing once final): ``params(job_id, ...)``.
    - ``finish[status]``: the final row, or nothing when the job was final already. On
      PostgreSQL one statement that also counts the outcome and sends the push
      (``finish_counts`` is True); on SQLite the caller runs ``count_outcome`` after it, in
      the same transaction.
    """

    def __init__(self, dialect: str, completion_channel: str | None) -> None:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        self.insert_if_absent: Executable = insert(Job).on_conflict_do_nothing().returning(Job)
        self.read: Executable = select(Job).where(Job.id == bindparam(_JOB_ID))
        self.start: Executable = _active_update(
            status=RUNNING,
            attempts=Job.attempts + 1,
            **_bound("worker", "started_at", "heartbeat_at", "updated_at"),
        ).returning(Job)
        self.finish_counts = dialect == "postgresql"
        if self.finish_counts:
            self.finish = {
                status: _counted_finish(status, values, completion_channel)
                for status, values in _OUTCOME_VALUES.items()
            }
        else:
            self.finish = {
                status: _active_update(**values).returning(Job) for status, values in _OUTCOME_VALUES.items()
            }
        self.count_outcome: Executable = (
            sqlite.insert(JobOutcomeCount)
            .values(kind=bindparam("outcome_kind"), status=bindparam("outcome_status"), count=1)
            .on_conflict_do_update(index_elements=["kind", "status"], set_=COUNT_ONE_MORE)
        )


def _counted_finish(status: str, values: dict[str, Any], channel: str | None) -> Executable:
    """PostgreSQL's finish as one statement, its own transaction: the update and the count
    are data-modifying CTEs, which PostgreSQL runs exactly once whether or not the query
    reads them, and the push is ``pg_notify`` of the updated row, so there is none when the
    job was final already. ``NOTIFY`` is delivered at commit, and only then: a waiter is told
    exactly when the final row is readable, without a round trip of its own. Its payload is
    that row when it fits (``_pushed_payload``)."""
    finished = _active_update(**values).returning(*Job.__table__.columns).cte("finished")
    counted = (
        postgresql.insert(JobOutcomeCount)
        .from_select(["kind", "status", "count"], select(finished.c.kind, literal(status), literal(1)))
        .on_conflict_do_update(index_elements=["kind", "status"], set_=COUNT_ONE_MORE)
        .cte("counted")
    )
    pushed = [] if channel is None else [func.pg_notify(channel, _pushed_payload(finished))]
    return select(*finished.columns, *pushed).add_cte(counted)


def _pushed_payload(finished: Any) -> Any:
    """The job's id, a space and the final row as JSON, so the waiting API process answers
    without reading the row again (and a process that waits on another job reads no further
    than the id); only the id when that would not fit in a ``NOTIFY`` payload (under 8,000
    bytes: a longer one fails the statement, and with it the job's finish)."""
    with_row = func.concat(finished.c.id, " ", cast(func.row_to_json(finished.table_valued()), Text))
    return case((func.octet_length(with_row) < NOTIFY_PAYLOAD_LIMIT, with_row), else_=finished.c.id)
