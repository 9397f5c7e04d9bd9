"""Face sets: named libraries of faces with a capacity and a typed custom-field schema."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, case, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter

from infra.db.batching import new_id
from infra.db.database import Database
from infra.db.models import LEGACY_FACE_SET_MODEL, Face, FaceSet, Person, utc_now
from infra.db.rows import FaceRow, FaceSetRow


def lock_face_set(session: Session, project_id: str, face_set_id: str) -> FaceSet | None:
    """The face set, locked until the transaction ends: every write that changes its
    faces goes through here, so face_count and capacity checks never race.
    (SQLite: the caller's write_session already holds the database's write lock.)"""
    return session.scalars(
        select(FaceSet).where(FaceSet.id == face_set_id, FaceSet.project_id == project_id).with_for_update()
    ).one_or_none()


def latest_vector_write(written_ts: int) -> ColumnElement[Any]:
    """``face_sets.vector_written_ts`` once a write at ``written_ts`` is recorded: the later
    of the two, so a write recorded late (or with no timestamp, 0) never moves it back."""
    return case(
        (func.coalesce(FaceSet.vector_written_ts, 0) < written_ts, written_ts),
        else_=FaceSet.vector_written_ts,
    )


class FaceSetRepo:
    def __init__(self, database: Database) -> None:
        self.db = database

    def create(
        self,
        *,
        project_id: str,
        name: str,
        capacity: int,
        external_fields: dict[str, Any] | None = None,
        model_id: str = LEGACY_FACE_SET_MODEL,
    ) -> FaceSetRow | None:
        """The new face set, or None when the project already has one of that name."""
        face_set = FaceSet(
            id=new_id(),
            project_id=project_id,
            name=name,
            capacity=capacity,
            external_fields=dict(external_fields or {}),
            face_count=0,
            created_at=utc_now(),
            model_id=model_id,
        )
        try:
            with self.db.session() as session:
                session.add(face_set)
                session.flush()
                created = FaceSetRow.of(face_set)
        except IntegrityError:
            return None
        return created

    def get(self, project_id: str, face_set_id: str) -> FaceSetRow | None:
        """The face set, unless it does not exist or is being deleted (``mark_deleting``)."""
        with self.db.session() as session:
            face_set = session.scalars(select(FaceSet).where(*_live(project_id, face_set_id))).one_or_none()
            return FaceSetRow.of(face_set) if face_set is not None else None

    def get_with_newest_face(
        self, project_id: str, face_set_id: str
    ) -> tuple[FaceSetRow, datetime | None] | None:
        """``get``, and when the face set last got a face (None while it has none), in one
        round trip: a search reads both before it queries the index, and the second decides
        whether it must ask for Strong consistency."""
        # Every search reads it first: one statement on a bare connection (Database.statement).
        with self.db.statement() as connection:
            found = connection.execute(
                _WITH_NEWEST_FACE, {"project_id": project_id, "face_set_id": face_set_id}
            ).one_or_none()
            if found is None:
                return None
            return FaceSetRow.of(found), found.newest_face_at

    def get_by_name(self, project_id: str, name: str, include_deleting: bool = False) -> FaceSetRow | None:
        """The face set of that name; one being deleted only with ``include_deleting`` (a
        second delete request re-sends the job of a delete that failed)."""
        # Every search request reads it: one statement on a bare connection (Database.statement).
        query = _BY_NAME if include_deleting else _LIVE_BY_NAME
        with self.db.statement() as connection:
            face_set = connection.execute(query, {"project_id": project_id, "name": name}).one_or_none()
            return FaceSetRow.of(face_set) if face_set is not None else None

    def list(self, project_id: str) -> builtins.list[FaceSetRow]:
        with self.db.session() as session:
            face_sets = session.scalars(
                select(FaceSet)
                .where(FaceSet.project_id == project_id, FaceSet.deleting_since.is_(None))
                .order_by(FaceSet.created_at, FaceSet.name)
            )
            return [FaceSetRow.of(f) for f in face_sets]

    def count(self, project_id: str) -> int:
        """Face sets of the project, those being deleted included (they still hold data)."""
        with self.db.session() as session:
            return int(
                session.scalar(
                    select(func.count()).select_from(FaceSet).where(FaceSet.project_id == project_id)
                )
                or 0
            )

    def mark_deleting(self, project_id: str, face_set_id: str) -> None:
        """Hide the face set from every read while its queued delete job runs. A face set
        already gone (the job was quicker) is left alone."""
        with self.db.write_session() as session:
            session.execute(
                update(FaceSet).where(*_live(project_id, face_set_id)).values(deleting_since=utc_now())
            )

    def start_reindex(self, project_id: str, face_set_id: str, model_id: str) -> FaceSetRow | None:
        """Mark the face set as moving to ``model_id`` (enrollments then write both models);
        None when it does not exist, is being deleted, or is already moving to another model."""
        with self.db.write_session() as session:
            face_set = lock_face_set(session, project_id, face_set_id)
            if face_set is None or face_set.deleting_since is not None:
                return None
            if face_set.reindex_model_id not in (None, model_id):
                return None
            face_set.reindex_model_id = model_id
            session.flush()
            return FaceSetRow.of(face_set)

    def switch_model(self, project_id: str, face_set_id: str, model_id: str) -> FaceSetRow | None:
        """The atomic end of a reindex: the face set and every face of it now use
        ``model_id``; the old model is kept as ``previous_model_id`` until cleanup. A face set
        that already switched is returned as it is (a re-sent job finishes again)."""
        with self.db.write_session() as session:
            face_set = lock_face_set(session, project_id, face_set_id)
            if face_set is None:
                return None
            if face_set.model_id != model_id:
                if face_set.reindex_model_id != model_id:
                    return None
                face_set.previous_model_id = face_set.model_id
                face_set.model_id = model_id
                face_set.reindex_model_id = None
                session.execute(update(Face).where(Face.face_set_id == face_set_id).values(model_id=model_id))
            session.flush()
            return FaceSetRow.of(face_set)

    def record_vector_write(self, project_id: str, face_set_id: str, written_ts: int) -> None:
        """Keep ``written_ts`` (the vector index's timestamp of a write of this face set's
        vectors) when it is the latest: a search right after must see that write too
        (``FaceSet.vector_written_ts``). For writes that add no face (an update of a face's
        fields, a reindex); ``FaceRepo.add_faces`` records its own."""
        if written_ts <= 0:
            return
        with self.db.statement() as connection:
            connection.execute(
                update(FaceSet)
                .where(FaceSet.id == face_set_id, FaceSet.project_id == project_id)
                .values(vector_written_ts=latest_vector_write(written_ts))
            )

    def forget_previous_model(self, project_id: str, face_set_id: str) -> FaceSetRow | None:
        with self.db.write_session() as session:
            face_set = lock_face_set(session, project_id, face_set_id)
            if face_set is None:
                return None
            face_set.previous_model_id = None
            session.flush()
            return FaceSetRow.of(face_set)

    def delete_with_faces(self, project_id: str, face_set_id: str) -> builtins.list[FaceRow]:
        """Delete the face set, its faces and persons in one transaction; returns the faces
        that were removed (their vectors and images are the caller's to remove). A face
        set that is already gone returns [] so a redelivered delete is a no-op."""
        with self.db.write_session() as session:
            face_set = lock_face_set(session, project_id, face_set_id)
            if face_set is None:
                return []
            faces = [
                FaceRow.of(f) for f in session.scalars(select(Face).where(Face.face_set_id == face_set_id))
            ]
            # Explicit deletes rather than ON DELETE CASCADE: SQLite enforces it only with
            # the foreign_keys pragma, and this must not depend on how a connection was made.
            session.execute(delete(Face).where(Face.face_set_id == face_set_id))
            session.execute(delete(Person).where(Person.face_set_id == face_set_id))
            session.execute(delete(FaceSet).where(FaceSet.id == face_set_id))
            return faces


def _live(
    project_id: str | BindParameter[str], face_set_id: str | BindParameter[str]
) -> tuple[ColumnElement[bool], ...]:
    """The face set by id, unless it is being deleted (``mark_deleting``): what the reads by
    id select, and what ``mark_deleting`` marks."""
    return (FaceSet.id == face_set_id, FaceSet.project_id == project_id, FaceSet.deleting_since.is_(None))


# The reads every search makes, built once (infra.db.job_statements says why).
_BY_NAME = select(FaceSet).where(
    FaceSet.project_id == bindparam("project_id"), FaceSet.name == bindparam("name")
)
_LIVE_BY_NAME = _BY_NAME.where(FaceSet.deleting_since.is_(None))
_NEWEST_FACE = (
    select(func.max(Face.created_at))
    .where(Face.face_set_id == FaceSet.id, Face.project_id == FaceSet.project_id)
    .scalar_subquery()
)
_WITH_NEWEST_FACE = select(FaceSet.__table__, _NEWEST_FACE.label("newest_face_at")).where(
    *_live(bindparam("project_id"), bindparam("face_set_id"))
)
