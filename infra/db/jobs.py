"""Job rows: the durable side of the job contract (``workers.execution``, ``api.jobs``).

Status moves pending → running → succeeded | failed. The first final outcome wins: a
late ``succeed``/``fail`` of a job that is already final changes nothing, so redelivered
or duplicated work cannot overwrite what a client may have read. Rows expire
``ttl_seconds`` after they finish (or after creation while they never do).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.orm import aliased

from infra.db.batching import affected_rows, batched, unique_in_order
from infra.db.database import Database
from infra.db.job_statements import (
    ACTIVE,
    FAILED,
    PENDING,
    RUNNING,
    SUCCEEDED,
    JobStatements,
    active_update,
    params,
)
from infra.db.models import Job, JobOutcomeCount, utc_now
from infra.db.rows import JobRow

DEFAULT_TTL_SECONDS = 7 * 24 * 3600
STALE_CLAIM_LIMIT = 500


class JobRepo:
    def __init__(
        self, database: Database, ttl_seconds: int = DEFAULT_TTL_SECONDS, completion_channel: str | None = None
    ) -> None:
        """``completion_channel``: a PostgreSQL ``NOTIFY`` channel told each job id that turns
        final, from the transaction that makes it final (``infra.completion.commit_channel``)."""
        self.db = database
        self.ttl = timedelta(seconds=ttl_seconds)
        self.completion_channel = completion_channel
        self.statements = JobStatements(database.engine.dialect.name, completion_channel)

    # ------------------------------------------------------------------ creation

    def create(
        self,
        *,
        job_id: str,
        project_id: str,
        kind: str,
        payload: dict[str, Any] | None,
        idempotency_key: str | None = None,
        parent_job_id: str | None = None,
        callback_url: str | None = None,
    ) -> tuple[JobRow, bool]:
        """(the job, True) when this call created it; (the existing job, False) when the
        id or the project's idempotency key was taken already."""
        inserted = self._insert_if_absent(
            id=job_id,
            project_id=project_id,
            kind=kind,
            payload=payload,
            idempotency_key=idempotency_key,
            parent_job_id=parent_job_id,
            callback_url=callback_url,
        )
        if inserted is not None:
            return inserted, True
        job = self.get(job_id)
        if job is None and idempotency_key is not None:
            job = self._by_idempotency_key(project_id, idempotency_key)
        if job is None:  # purged between the insert and the read: not worth a retry loop
            raise LookupError(f"job {job_id} vanished right after it was created")
        return job, False

    def create_child(
        self,
        *,
        job_id: str,
        project_id: str,
        kind: str,
        payload: dict[str, Any],
        parent_job_id: str | None = None,
    ) -> bool:
        """Create a sub-job of a batch; False when it exists already (a redelivered parent).

        The parent is ``parent_job_id`` or else ``payload["parent_job_id"]``.
        """
        parent = parent_job_id or payload.get("parent_job_id")
        inserted = self._insert_if_absent(
            id=job_id,
            project_id=project_id,
            kind=kind,
            payload=payload,
            idempotency_key=None,
            parent_job_id=str(parent) if parent is not None else None,
            callback_url=None,
        )
        return inserted is not None

    def _insert_if_absent(self, **values: Any) -> JobRow | None:
        """The new row, or None when the id or the project's idempotency key was taken."""
        now = utc_now()
        values.update(
            status=PENDING,
            progress_done=0,
            attempts=0,
            created_at=now,
            updated_at=now,
            heartbeat_at=now,
            expires_at=now + self.ttl,
        )
        # RETURNING tells whether the row was inserted (ORM-level inserts report no rowcount)
        # and hands it back, so a sync call's intake costs one round trip, not a read after it.
        with self.db.statement() as connection:
            job = connection.execute(self.statements.insert_if_absent, values).one_or_none()
            return JobRow.of(job) if job is not None else None

    # ------------------------------------------------------------------ reads

    def get(self, job_id: str) -> JobRow | None:
        with self.db.statement() as connection:
            job = connection.execute(self.statements.read, params(job_id)).one_or_none()
            return JobRow.of(job) if job is not None else None

    def get_many(self, job_ids: Iterable[str]) -> list[JobRow]:
        """The jobs that exist among ``job_ids``, ordered by id."""
        rows: list[JobRow] = []
        with self.db.session() as session:
            for chunk in batched(unique_in_order(job_ids)):
                rows.extend(JobRow.of(job) for job in session.scalars(select(Job).where(Job.id.in_(chunk))))
        return sorted(rows, key=lambda row: row.id)

    def children(self, parent_job_id: str) -> list[JobRow]:
        with self.db.session() as session:
            jobs = session.scalars(select(Job).where(Job.parent_job_id == parent_job_id).order_by(Job.id))
            return [JobRow.of(job) for job in jobs]

    def count_final_children(self, parent_job_id: str) -> int:
        """How many of a parent's sub-jobs have ended: one count on the parent index, so
        each of a batch's chunks can ask whether it was the last without reading the
        others' rows and reports."""
        statement = (
            select(func.count())
            .select_from(Job)
            .where(Job.parent_job_id == parent_job_id, Job.status.in_((SUCCEEDED, FAILED)))
        )
        with self.db.session() as session:
            return int(session.scalar(statement) or 0)

    def _by_idempotency_key(self, project_id: str, key: str) -> JobRow | None:
        with self.db.session() as session:
            job = session.scalars(
                select(Job).where(Job.project_id == project_id, Job.idempotency_key == key)
            ).one_or_none()
            return JobRow.of(job) if job is not None else None

    # ------------------------------------------------------------------ transitions

    def start(self, job_id: str, worker: str) -> JobRow | None:
        """Record that ``worker`` started (or restarted) the job and return the running row;
        None when the job is final already or has no row. One statement: a worker learns
        whether to run a job and starts it in the same round trip."""
        now = utc_now()
        values = params(job_id, worker=worker, started_at=now, heartbeat_at=now, updated_at=now)
        with self.db.statement() as connection:
            job = connection.execute(self.statements.start, values).one_or_none()
            return JobRow.of(job) if job is not None else None

    def heartbeat(self, job_id: str) -> bool:
        return self._update_active(job_id, heartbeat_at=utc_now())

    def set_progress(self, job_id: str, done: int, total: int) -> bool:
        return self._update_active(job_id, progress_done=done, progress_total=total, heartbeat_at=utc_now())

    def refresh_parent_progress(
        self, parent_job_id: str, then: Callable[[JobRow], None] | None = None
    ) -> bool:
        """Set a batch's progress to the sum of its sub-jobs' progress (one statement, so
        concurrent chunks never lose each other's counts). Also keeps the parent alive
        for ``claim_stale`` while its chunks work.

        ``then`` gets the refreshed parent while its row is still locked by the update: two
        chunks reporting at once (in different workers) act on their counts in the order
        they wrote them, so progress events come out in order."""
        child = aliased(Job)
        done = (
            select(func.coalesce(func.sum(child.progress_done), 0))
            .where(child.parent_job_id == parent_job_id)
            .scalar_subquery()
        )
        with self.db.write_session() as session:
            result = session.execute(_active_update(parent_job_id, progress_done=done, heartbeat_at=utc_now()))
            if not affected_rows(result):
                return False
            if then is not None:
                parent = session.scalars(
                    select(Job).where(Job.id == parent_job_id).execution_options(populate_existing=True)
                ).one()
                then(JobRow.of(parent))
            return True

    def succeed(self, job_id: str, result: dict[str, Any]) -> JobRow | None:
        """Store the result and return the final row; None when the job was already final
        (first outcome wins)."""
        now = utc_now()
        return self._finish(
            SUCCEEDED, job_id, result=result, finished_at=now, expires_at=now + self.ttl, updated_at=now
        )

    def fail(
        self, job_id: str, code: str, message: str, details: dict[str, Any] | None = None
    ) -> JobRow | None:
        """Store a structured error and return the final row; None when the job was already
        final."""
        now = utc_now()
        return self._finish(
            FAILED,
            job_id,
            error_code=code,
            error_message=message,
            error_details=details,
            finished_at=now,
            expires_at=now + self.ttl,
            updated_at=now,
        )

    def record_webhook(self, job_id: str, report: dict[str, Any]) -> bool:
        """Store the delivery report of the job's callback (the job is final by then)."""
        with self.db.session() as session:
            result = session.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(webhook=report, updated_at=utc_now())
                .execution_options(synchronize_session=False)
            )
            return bool(affected_rows(result))

    def _finish(self, status: str, job_id: str, **values: Any) -> JobRow | None:
        """Make the job final and count its outcome in the same transaction: exactly once,
        since only the update that found it still active counts. Returns the final row (its
        event is built from it), None when the job was final already."""
        statements = self.statements
        if statements.finish_counts:  # one statement, committed by itself
            with self.db.statement() as connection:
                job = connection.execute(statements.finish[status], params(job_id, **values)).one_or_none()
                return JobRow.of(job) if job is not None else None
        with self.db.connection() as connection:
            job = connection.execute(statements.finish[status], params(job_id, **values)).one_or_none()
            if job is None:
                return None
            connection.execute(statements.count_outcome, {"outcome_kind": job.kind, "outcome_status": status})
            return JobRow.of(job)

    def outcome_counts(self) -> dict[tuple[str, str], int]:
        """Finished jobs by (kind, status) since the database was made; never decreases."""
        with self.db.session() as session:
            rows = session.execute(select(JobOutcomeCount.kind, JobOutcomeCount.status, JobOutcomeCount.count))
            return {(kind, status): int(count) for kind, status, count in rows}

    def _update_active(self, job_id: str, **values: Any) -> bool:
        with self.db.statement() as connection:
            return bool(affected_rows(connection.execute(_active_update(job_id, **values))))

    # ------------------------------------------------------------------ housekeeping

    def claim_stale(
        self, cutoff: datetime, limit: int = STALE_CLAIM_LIMIT, include_pending: bool = True
    ) -> list[JobRow]:
        """Claim jobs to send again: running ones whose worker stopped beating before
        ``cutoff`` (killed), and, with ``include_pending``, pending ones last sent before it
        (message lost: only a broker without durable, confirmed queues loses them).

        Each claimed job is set back to pending with a fresh heartbeat, so it is claimed
        again only if another stale period passes; concurrent callers never claim the
        same job (row locks skipped on PostgreSQL, the write lock on SQLite).
        """
        now = utc_now()
        last_sign = func.coalesce(Job.heartbeat_at, Job.started_at, Job.created_at)
        stale_running = and_(Job.status == RUNNING, last_sign < cutoff)
        stale = (
            or_(stale_running, and_(Job.status == PENDING, func.coalesce(Job.heartbeat_at, Job.created_at) < cutoff))
            if include_pending
            else stale_running
        )
        with self.db.write_session() as session:
            jobs = list(
                session.scalars(
                    select(Job)
                    .where(stale)
                    .order_by(Job.created_at)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            )
            for job in jobs:
                job.status = PENDING
                job.worker = None
                job.heartbeat_at = now
                job.updated_at = now
            session.flush()
            return [JobRow.of(job) for job in jobs]

    def release_claim(self, job_id: str, stale_since: datetime) -> bool:
        """Undo ``claim_stale`` for a job that could not be sent (the broker is down): it
        goes back to a stale ``running`` so that the next sweep claims it again, instead of
        staying ``pending`` with no message anywhere."""
        with self.db.session() as session:
            result = session.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == PENDING)
                .values(status=RUNNING, heartbeat_at=stale_since, updated_at=utc_now())
                .execution_options(synchronize_session=False)
            )
            return bool(affected_rows(result))

    def purge_expired(self, now: datetime | None = None) -> int:
        """Delete the jobs whose expiry passed; returns how many."""
        with self.db.session() as session:
            result = session.execute(
                delete(Job)
                .where(Job.expires_at < (now or utc_now()))
                .execution_options(synchronize_session=False)
            )
            return affected_rows(result)

    def active_by_kind(self) -> dict[str, tuple[int, datetime | None]]:
        """For each job kind with unfinished jobs: (running count, oldest pending creation).
        The embedded mode's stand-in for broker queue signals."""
        running = func.sum(case((Job.status == RUNNING, 1), else_=0))
        oldest_pending = func.min(case((Job.status == PENDING, Job.created_at), else_=None))
        with self.db.session() as session:
            rows = session.execute(
                select(Job.kind, running, oldest_pending).where(Job.status.in_(ACTIVE)).group_by(Job.kind)
            )
            return {
                str(kind): (int(count or 0), _as_utc(oldest) if oldest is not None else None)
                for kind, count, oldest in rows
            }

    def active_manifest_keys(self) -> set[str]:
        """Manifests (object keys) of batches still running: the images they list are in use
        although no job payload names them."""
        with self.db.session() as session:
            payloads = session.scalars(
                select(Job.payload).where(Job.status.in_(ACTIVE), Job.kind.in_(("enroll_batch", "enroll_chunk")))
            )
            return {str(p["manifest_key"]) for p in payloads if isinstance(p, dict) and p.get("manifest_key")}

    def referenced_keys(self, keys: Iterable[str]) -> set[str]:
        """The object keys that a job still to run (pending or running) names in its payload:
        reconciliation must not delete an image a queued job is about to read."""
        wanted = set(keys)
        if not wanted:
            return set()
        used: set[str] = set()
        with self.db.session() as session:
            for payload in session.scalars(select(Job.payload).where(Job.status.in_(ACTIVE))):
                used.update(_strings_in(payload) & wanted)
        return used


def _as_utc(value: Any) -> datetime:
    # Aggregates bypass the column's UTC type decorator: SQLite returns text, PostgreSQL
    # an aware datetime.
    moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _strings_in(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return {found for item in value.values() for found in _strings_in(item)}
    if isinstance(value, list):
        return {found for item in value for found in _strings_in(item)}
    return set()


def _active_update(job_id: str, **values: Any) -> Any:
    """``active_update``, stamped ``updated_at`` now unless the values say otherwise."""
    values.setdefault("updated_at", utc_now())
    return active_update(job_id, **values)
