"""Domain errors of the SQL layer. Repositories translate ``IntegrityError`` into these so
callers never inspect driver messages."""

from __future__ import annotations

from infra.errors import InfraError


class DatabaseError(InfraError):
    """Base class of the SQL layer's domain errors."""


class NotFound(DatabaseError):
    """The row the write refers to does not exist (any more)."""


class DuplicateName(DatabaseError):
    """A name that must be unique in its scope is taken (a project, a face set)."""


class DuplicateFaceId(DatabaseError):
    """A face id already belongs to another face set; face ids are global."""


class CapacityExceeded(DatabaseError):
    """Adding the faces would take the face set past its capacity; nothing was added."""

    def __init__(self, face_set_id: str, capacity: int, face_count: int, adding: int) -> None:
        super().__init__(
            f"face set {face_set_id} is full: it holds {face_count} of {capacity} faces "
            f"and {adding} more were to be added"
        )
        self.face_set_id = face_set_id
        self.capacity = capacity
        self.face_count = face_count
        self.adding = adding
