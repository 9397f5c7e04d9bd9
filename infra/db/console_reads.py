"""Reads the operator console needs beyond the face API: a project's jobs, newest first,
and the fleet's figures sampled once a minute.

Jobs page by keyset on (created_at, id), so a page costs the same at the ten-thousandth
job as at the first; a batch's chunk jobs are internal and never listed.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from infra.db.database import Database
from infra.db.models import FleetSample, Job
from infra.db.rows import JobRow


@dataclass(frozen=True)
class JobCursor:
    """Where the next page starts: just after this (created_at, id)."""

    created_at: datetime
    job_id: str

    def encode(self) -> str:
        return f"{self.created_at.astimezone(UTC).strftime('%Y%m%dT%H%M%S.%fZ')}~{self.job_id}"

    @classmethod
    def decode(cls, text: str) -> JobCursor:
        """Raises ValueError on anything this class did not write."""
        stamp, separator, job_id = text.partition("~")
        if not separator or not job_id:
            raise ValueError("malformed cursor")
        created_at = datetime.strptime(stamp, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC)
        return cls(created_at, job_id)


@dataclass(frozen=True)
class FleetSampleRow:
    minute: datetime
    ready: int
    unacked: int
    workers: int | None
    jobs_finished: int
    queues: dict[str, Any]


class ConsoleReads:
    def __init__(self, database: Database) -> None:
        self.db = database

    def jobs(
        self,
        project_id: str,
        *,
        kind: str | None = None,
        status: str | None = None,
        after: JobCursor | None = None,
        limit: int = 50,
    ) -> tuple[builtins.list[JobRow], JobCursor | None]:
        """A page of the project's top-level jobs, newest first, and the cursor of the next
        page (None on the last)."""
        query = select(Job).where(Job.project_id == project_id, Job.parent_job_id.is_(None))
        if kind is not None:
            query = query.where(Job.kind == kind)
        if status is not None:
            query = query.where(Job.status == status)
        if after is not None:
            query = query.where(
                or_(
                    Job.created_at < after.created_at,
                    and_(Job.created_at == after.created_at, Job.id < after.job_id),
                )
            )
        query = query.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit + 1)
        with self.db.session() as session:
            rows = [JobRow.of(job) for job in session.scalars(query)]
        if len(rows) <= limit:
            return rows, None
        last = rows[limit - 1]
        return rows[:limit], JobCursor(last.created_at, last.id)

    def jobs_finished_between(self, start: datetime, end: datetime) -> int:
        with self.db.session() as session:
            count = session.scalar(
                select(func.count())
                .select_from(Job)
                .where(Job.parent_job_id.is_(None), Job.finished_at >= start, Job.finished_at < end)
            )
        return int(count or 0)

    def workers_seen_since(self, since: datetime) -> int:
        """Distinct workers that finished a job lately: embedded mode's broker has no
        consumer count (an idle worker is not seen)."""
        with self.db.session() as session:
            count = session.scalar(
                select(func.count(func.distinct(Job.worker))).where(
                    Job.worker.is_not(None), Job.finished_at >= since
                )
            )
        return int(count or 0)

    def record_sample(self, sample: FleetSampleRow) -> bool:
        """Write the minute's sample unless another process already has; True when written."""
        values = {
            "minute": sample.minute,
            "ready": sample.ready,
            "unacked": sample.unacked,
            "workers": sample.workers,
            "jobs_finished": sample.jobs_finished,
            "queues": sample.queues,
        }
        insert = postgresql.insert if self.db.engine.dialect.name == "postgresql" else sqlite.insert
        statement = (
            insert(FleetSample).values(**values).on_conflict_do_nothing().returning(FleetSample.minute)
        )
        with self.db.session() as session:
            return session.execute(statement).first() is not None

    def samples_since(self, since: datetime) -> builtins.list[FleetSampleRow]:
        with self.db.session() as session:
            samples = session.scalars(
                select(FleetSample).where(FleetSample.minute >= since).order_by(FleetSample.minute)
            )
            return [
                FleetSampleRow(s.minute, s.ready, s.unacked, s.workers, s.jobs_finished, dict(s.queues or {}))
                for s in samples
            ]

    def purge_samples_before(self, before: datetime) -> None:
        with self.db.session() as session:
            session.execute(delete(FleetSample).where(FleetSample.minute < before))


def minute_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def hour_before(moment: datetime) -> datetime:
    return minute_of(moment) - timedelta(hours=1)
