"""Faces and the persons (user ids) grouping them.

Every write that changes the faces of a set first locks the face-set row (see
``lock_face_set``), then keeps ``face_sets.face_count`` exact in the same transaction.
That makes the capacity check race-free and lets enrollment be insert-or-ignore on its
deterministic face ids: a redelivered job adds nothing and uses no capacity.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from core.results import PixelBox
from infra.db.batching import batched, unique_in_order
from infra.db.database import Database
from infra.db.errors import CapacityExceeded, DuplicateFaceId, NotFound
from infra.db.face_sets import latest_vector_write, lock_face_set
from infra.db.models import Face, FaceSet, Person, utc_now
from infra.db.rows import FaceRow, PersonRow

# Any bounding box with integer x, y, width and height (``pipelines.types.BoundingBox``, ``Box``).
BoxLike = PixelBox
# A search's hits, built once (infra.db.job_statements says why).
_FACES_BY_ID = select(Face).where(
    Face.project_id == bindparam("project_id"),
    Face.face_set_id == bindparam("face_set_id"),
    Face.face_id.in_(bindparam("face_ids", expanding=True)),
)


@dataclass(frozen=True)
class NewFace:
    """A face to store: what the enrollment computed, keyed by its deterministic id."""

    face_id: str
    external_image_id: str
    box: BoxLike
    image_key: str
    model_id: str
    external_fields: dict[str, Any] = field(default_factory=dict)
    user_id: str | None = None
    crop_key: str | None = None
    confidence: float | None = None


class FaceRepo:
    def __init__(self, database: Database) -> None:
        self.db = database

    # ------------------------------------------------------------------ writes

    def add_faces(
        self, project_id: str, face_set_id: str, faces: Sequence[NewFace], vector_written_ts: int = 0
    ) -> builtins.list[str]:
        """Store the faces that are not stored yet, all or none; returns the ids added.

        ``vector_written_ts``: the vector index's timestamp of their vectors' write; the face
        set keeps the latest one, for searches right after (``FaceSet.vector_written_ts``).

        Raises ``NotFound`` when the face set is gone, ``CapacityExceeded`` when the new
        faces do not fit (nothing is added), ``DuplicateFaceId`` when an id belongs to
        another face set.
        """
        first_of_each: dict[str, NewFace] = {}
        for face in faces:
            first_of_each.setdefault(face.face_id, face)
        wanted = list(first_of_each.values())
        if not wanted:
            return []
        with self.db.write_session() as session:
            face_set = lock_face_set(session, project_id, face_set_id)
            if face_set is None:
                raise NotFound(f"face set {face_set_id} does not exist")
            stored = self._face_sets_of(session, [face.face_id for face in wanted])
            elsewhere = sorted(face_id for face_id, owner in stored.items() if owner != face_set_id)
            if elsewhere:
                raise DuplicateFaceId(
                    f"face ids already used by another face set: {', '.join(elsewhere[:5])}"
                )
            new = [face for face in wanted if face.face_id not in stored]
            if not new:
                return []
            if face_set.face_count + len(new) > face_set.capacity:
                raise CapacityExceeded(face_set_id, face_set.capacity, face_set.face_count, len(new))
            now = utc_now()
            session.add_all(self._model(project_id, face_set_id, face, now) for face in new)
            session.execute(
                update(FaceSet)
                .where(FaceSet.id == face_set_id)
                .values(
                    face_count=FaceSet.face_count + len(new),
                    vector_written_ts=latest_vector_write(vector_written_ts),
                )
                .execution_options(synchronize_session=False)
            )
            self._ensure_persons(session, project_id, face_set_id, [face.user_id for face in new])
            return [face.face_id for face in new]

    def update(
        self,
        project_id: str,
        face_set_id: str,
        face_id: str,
        *,
        external_image_id: str | None = None,
        external_fields: dict[str, Any] | None = None,
        user_id: str | None = None,
    ) -> FaceRow | None:
        """Change the given attributes (None leaves one as it is, a ``user_id`` of "" removes
        the face's user); None when no such face."""
        with self.db.write_session() as session:
            if lock_face_set(session, project_id, face_set_id) is None:
                return None
            face = self._face(session, project_id, face_set_id, face_id)
            if face is None:
                return None
            if external_image_id is not None:
                face.external_image_id = external_image_id
            if external_fields is not None:
                face.external_fields = dict(external_fields)
            if user_id is not None and (user_id or None) != face.user_id:
                previous = face.user_id
                face.user_id = user_id or None  # "" clears the user (Rekognition's DisassociateFaces)
                session.flush()
                self._ensure_persons(session, project_id, face_set_id, [user_id or None])
                self._drop_empty_persons(session, face_set_id, [previous])
            session.flush()
            return FaceRow.of(face)

    def delete_faces(
        self,
        project_id: str,
        face_set_id: str,
        face_ids: Sequence[str] | None = None,
        *,
        external_image_id: str | None = None,
    ) -> builtins.list[FaceRow]:
        """Delete faces by id and/or by external image id; returns the rows removed
        (absent ids are skipped, so a redelivered delete removes nothing)."""
        with self.db.write_session() as session:
            if lock_face_set(session, project_id, face_set_id) is None:
                return []
            doomed: dict[str, Face] = {}
            for chunk in batched(unique_in_order(face_ids or [])):
                for face in session.scalars(
                    select(Face).where(Face.face_set_id == face_set_id, Face.face_id.in_(chunk))
                ):
                    doomed[face.face_id] = face
            if external_image_id is not None:
                for face in session.scalars(
                    select(Face).where(
                        Face.face_set_id == face_set_id, Face.external_image_id == external_image_id
                    )
                ):
                    doomed[face.face_id] = face
            if not doomed:
                return []
            removed = [FaceRow.of(face) for face in doomed.values()]
            for chunk in batched(list(doomed)):
                session.execute(delete(Face).where(Face.face_id.in_(chunk)))
            session.execute(
                update(FaceSet)
                .where(FaceSet.id == face_set_id)
                .values(face_count=FaceSet.face_count - len(removed))
                .execution_options(synchronize_session=False)
            )
            self._drop_empty_persons(session, face_set_id, [row.user_id for row in removed])
            return removed

    # ------------------------------------------------------------------ reads

    def get(self, project_id: str, face_set_id: str, face_id: str) -> FaceRow | None:
        with self.db.session() as session:
            face = self._face(session, project_id, face_set_id, face_id)
            return FaceRow.of(face) if face is not None else None

    def get_many(self, project_id: str, face_set_id: str, face_ids: Iterable[str]) -> dict[str, FaceRow]:
        found: dict[str, FaceRow] = {}
        # A search's hits: reads on a bare connection, each committed alone (Database.statement).
        with self.db.statement() as connection:
            for chunk in batched(unique_in_order(face_ids)):
                chosen = {"project_id": project_id, "face_set_id": face_set_id, "face_ids": chunk}
                rows = connection.execute(_FACES_BY_ID, chosen)
                found.update((face.face_id, FaceRow.of(face)) for face in rows)
        return found

    def list(
        self, project_id: str, face_set_id: str, *, offset: int = 0, limit: int = 100
    ) -> builtins.list[FaceRow]:
        """A page of the face set's faces, oldest first."""
        with self.db.session() as session:
            faces = session.scalars(
                select(Face)
                .where(Face.project_id == project_id, Face.face_set_id == face_set_id)
                .order_by(Face.created_at, Face.face_id)
                .offset(offset)
                .limit(limit)
            )
            return [FaceRow.of(face) for face in faces]

    def find_by_external_image_id(
        self, project_id: str, face_set_id: str, external_image_id: str
    ) -> builtins.list[FaceRow]:
        with self.db.session() as session:
            faces = session.scalars(
                select(Face)
                .where(
                    Face.project_id == project_id,
                    Face.face_set_id == face_set_id,
                    Face.external_image_id == external_image_id,
                )
                .order_by(Face.created_at, Face.face_id)
            )
            return [FaceRow.of(face) for face in faces]

    def find_by_user_id(self, project_id: str, face_set_id: str, user_id: str) -> builtins.list[FaceRow]:
        """Every face of one person (user id) in a face set."""
        with self.db.session() as session:
            faces = session.scalars(
                select(Face)
                .where(Face.project_id == project_id, Face.face_set_id == face_set_id, Face.user_id == user_id)
                .order_by(Face.created_at, Face.face_id)
            )
            return [FaceRow.of(face) for face in faces]

    def find_by_face_id(self, project_id: str, face_id: str) -> builtins.list[FaceRow]:
        """The face with this id in any face set of the project (at most one row)."""
        with self.db.session() as session:
            faces = session.scalars(select(Face).where(Face.project_id == project_id, Face.face_id == face_id))
            return [FaceRow.of(face) for face in faces]

    def persons(self, project_id: str, face_set_id: str) -> builtins.list[PersonRow]:
        with self.db.session() as session:
            persons = session.scalars(
                select(Person)
                .where(Person.project_id == project_id, Person.face_set_id == face_set_id)
                .order_by(Person.user_id)
            )
            return [PersonRow.of(person) for person in persons]

    def referenced_keys(self, keys: Iterable[str]) -> set[str]:
        """The object keys (images or crops) that some face still refers to."""
        wanted = unique_in_order(keys)
        used: set[str] = set()
        with self.db.session() as session:
            for chunk in batched(wanted):
                used.update(session.scalars(select(Face.image_key).where(Face.image_key.in_(chunk))))
                used.update(
                    key
                    for key in session.scalars(select(Face.crop_key).where(Face.crop_key.in_(chunk)))
                    if key
                )
        return used

    def missing_face_ids(self, face_ids: Iterable[str]) -> builtins.list[str]:
        """The ids (in the given order) that have no face row, in any face set."""
        wanted = unique_in_order(face_ids)
        with self.db.session() as session:
            present = {
                face_id
                for chunk in batched(wanted)
                for face_id in session.scalars(select(Face.face_id).where(Face.face_id.in_(chunk)))
            }
        return [face_id for face_id in wanted if face_id not in present]

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _face(session: Session, project_id: str, face_set_id: str, face_id: str) -> Face | None:
        return session.scalars(
            select(Face).where(
                Face.face_id == face_id, Face.face_set_id == face_set_id, Face.project_id == project_id
            )
        ).one_or_none()

    @staticmethod
    def _face_sets_of(session: Session, face_ids: Sequence[str]) -> dict[str, str]:
        owners: dict[str, str] = {}
        for chunk in batched(face_ids):
            rows = session.execute(select(Face.face_id, Face.face_set_id).where(Face.face_id.in_(chunk)))
            owners.update((face_id, face_set_id) for face_id, face_set_id in rows)
        return owners

    @staticmethod
    def _model(project_id: str, face_set_id: str, face: NewFace, now: Any) -> Face:
        return Face(
            face_id=face.face_id,
            project_id=project_id,
            face_set_id=face_set_id,
            external_image_id=face.external_image_id,
            external_fields=dict(face.external_fields),
            user_id=face.user_id,
            box_x=int(face.box.x),
            box_y=int(face.box.y),
            box_width=int(face.box.width),
            box_height=int(face.box.height),
            confidence=float(face.confidence) if face.confidence is not None else None,
            image_key=face.image_key,
            crop_key=face.crop_key,
            model_id=face.model_id,
            created_at=now,
        )

    @staticmethod
    def _ensure_persons(
        session: Session, project_id: str, face_set_id: str, user_ids: Iterable[str | None]
    ) -> None:
        wanted = [user_id for user_id in unique_in_order(user_ids) if user_id is not None]
        if not wanted:
            return
        known = set(
            session.scalars(
                select(Person.user_id).where(Person.face_set_id == face_set_id, Person.user_id.in_(wanted))
            )
        )
        now = utc_now()
        session.add_all(
            Person(project_id=project_id, face_set_id=face_set_id, user_id=user_id, created_at=now)
            for user_id in wanted
            if user_id not in known
        )
        session.flush()

    @staticmethod
    def _drop_empty_persons(session: Session, face_set_id: str, user_ids: Iterable[str | None]) -> None:
        candidates = [user_id for user_id in unique_in_order(user_ids) if user_id is not None]
        if not candidates:
            return
        still_used = set(
            session.scalars(
                select(Face.user_id)
                .where(Face.face_set_id == face_set_id, Face.user_id.in_(candidates))
                .distinct()
            )
        )
        empty = [user_id for user_id in candidates if user_id not in still_used]
        if empty:
            session.execute(
                delete(Person).where(Person.face_set_id == face_set_id, Person.user_id.in_(empty))
            )
