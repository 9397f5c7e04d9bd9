"""Persons: the faces of one user id, listed, counted and erased together.

Counts come from the faces table (the ``persons`` rows only name who exists): a face
count is then exact in the same snapshot as the faces a caller is about to read.
Erasure locks the face set like every other face write (see ``infra.db.face_sets``), so
a face enrolled for the person while the erasure runs is either erased with it or added
after it, never half-counted.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update

from infra.db.batching import batched
from infra.db.database import Database
from infra.db.face_sets import lock_face_set
from infra.db.models import Face, FaceSet, Person
from infra.db.rows import FaceRow


@dataclass(frozen=True)
class PersonCount:
    user_id: str
    face_count: int


class PersonRepo:
    def __init__(self, database: Database) -> None:
        self.db = database

    def list(
        self, project_id: str, face_set_id: str, *, offset: int = 0, limit: int = 100
    ) -> builtins.list[PersonCount]:
        """A page of the face set's persons with their face counts, by user id."""
        with self.db.session() as session:
            rows = session.execute(
                select(Face.user_id, func.count())
                .where(Face.project_id == project_id, Face.face_set_id == face_set_id, Face.user_id.is_not(None))
                .group_by(Face.user_id)
                .order_by(Face.user_id)
                .offset(offset)
                .limit(limit)
            )
            return [PersonCount(str(user_id), int(count)) for user_id, count in rows]

    def count(self, project_id: str, face_set_id: str) -> int:
        """How many persons (distinct user ids) the face set holds."""
        with self.db.session() as session:
            return int(
                session.scalar(
                    select(func.count(func.distinct(Face.user_id))).where(
                        Face.project_id == project_id, Face.face_set_id == face_set_id, Face.user_id.is_not(None)
                    )
                )
                or 0
            )

    def faces(
        self, project_id: str, face_set_id: str, user_id: str, *, offset: int = 0, limit: int = 100
    ) -> builtins.list[FaceRow]:
        """A page of one person's faces, oldest first."""
        with self.db.session() as session:
            faces = session.scalars(
                select(Face)
                .where(Face.project_id == project_id, Face.face_set_id == face_set_id, Face.user_id == user_id)
                .order_by(Face.created_at, Face.face_id)
                .offset(offset)
                .limit(limit)
            )
            return [FaceRow.of(face) for face in faces]

    def face_count(self, project_id: str, face_set_id: str, user_id: str) -> int:
        with self.db.session() as session:
            return int(
                session.scalar(
                    select(func.count()).where(
                        Face.project_id == project_id, Face.face_set_id == face_set_id, Face.user_id == user_id
                    )
                )
                or 0
            )

    def face_ids_of(
        self, project_id: str, face_set_id: str, user_ids: builtins.list[str]
    ) -> dict[str, builtins.list[str]]:
        """Every face id of each of these persons in the face set."""
        found: dict[str, builtins.list[str]] = {user_id: [] for user_id in user_ids}
        with self.db.session() as session:
            for chunk in batched(user_ids):
                rows = session.execute(
                    select(Face.user_id, Face.face_id).where(
                        Face.project_id == project_id, Face.face_set_id == face_set_id, Face.user_id.in_(chunk)
                    )
                )
                for user_id, face_id in rows:
                    found[str(user_id)].append(str(face_id))
        return found

    def face_sets_of(self, project_id: str, user_id: str) -> builtins.list[str]:
        """The ids of the project's face sets that hold a face of this person."""
        with self.db.session() as session:
            return sorted(
                session.scalars(
                    select(Face.face_set_id)
                    .where(Face.project_id == project_id, Face.user_id == user_id)
                    .distinct()
                )
            )

    def erase(self, project_id: str, face_set_id: str, user_id: str) -> builtins.list[FaceRow]:
        """Delete every face of the person in one face set, with its person row, in one
        transaction; returns the rows removed (their vectors and objects are the caller's).
        Nothing to erase returns [], so a redelivered erasure is a no-op."""
        with self.db.write_session() as session:
            if lock_face_set(session, project_id, face_set_id) is None:
                return []
            removed = [
                FaceRow.of(face)
                for face in session.scalars(
                    select(Face).where(Face.face_set_id == face_set_id, Face.user_id == user_id)
                )
            ]
            for chunk in batched([row.face_id for row in removed]):
                session.execute(delete(Face).where(Face.face_id.in_(chunk)))
            if removed:
                session.execute(
                    update(FaceSet)
                    .where(FaceSet.id == face_set_id)
                    .values(face_count=FaceSet.face_count - len(removed))
                    .execution_options(synchronize_session=False)
                )
            session.execute(delete(Person).where(Person.face_set_id == face_set_id, Person.user_id == user_id))
            return removed
