"""Tables of the Rekognition-compatible endpoint: access-key pairs, collection ids, users.

An access key's secret is stored Fernet-encrypted (``cryptography``'s MultiFernet: the first
key encrypts, every key decrypts, so the server key can be rotated); the clear secret
exists once, in ``IssuedAccessKey.secret``, and is never logged.
"""

from __future__ import annotations

import builtins
import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from infra.db.batching import add_project_row, affected_rows
from infra.db.database import Database
from infra.db.errors import DuplicateName
from infra.db.models import (
    RekognitionAccessKey,
    RekognitionCollection,
    RekognitionImage,
    RekognitionUser,
    utc_now,
)

ACCESS_KEY_PREFIX = "FFAK"
_ACCESS_KEY_ALPHABET = string.ascii_uppercase + "234567"
ACCESS_KEY_ID_LENGTH = 20  # the length of AWS's own access key ids
SECRET_BYTES = 30  # 40 base64 characters, like an AWS secret access key


class EncryptionNotConfigured(RuntimeError):
    """``rekognition.encryption_keys`` is empty: no secret can be stored or read."""


def secret_cipher(keys: Sequence[str]) -> MultiFernet:
    if not keys:
        raise EncryptionNotConfigured("set rekognition.encryption_keys (a Fernet key) to use access keys")
    return MultiFernet([Fernet(key.encode()) for key in keys])


def new_encryption_key() -> str:
    return Fernet.generate_key().decode()


@dataclass(frozen=True)
class AccessKeyRow:
    id: str
    project_id: str
    label: str | None
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class IssuedAccessKey:
    """A new pair: ``secret`` is its only clear copy, to be shown once."""

    id: str
    project_id: str
    secret: str
    label: str | None
    created_at: datetime


@dataclass(frozen=True)
class ActiveAccessKey:
    id: str
    project_id: str
    secret: str

    def __repr__(self) -> str:  # never print the secret, even in a traceback's locals
        return f"ActiveAccessKey(id={self.id!r}, project_id={self.project_id!r})"


@dataclass(frozen=True)
class CollectionRow:
    project_id: str
    collection_id: str
    face_set_id: str
    created_at: datetime

    @classmethod
    def of(cls, row: RekognitionCollection) -> CollectionRow:
        return cls(row.project_id, row.collection_id, row.face_set_id, row.created_at)


class AccessKeyRepo:
    def __init__(self, database: Database, encryption_keys: Sequence[str]) -> None:
        self.db = database
        self.encryption_keys = list(encryption_keys)

    def create(self, project_id: str, label: str | None = None) -> IssuedAccessKey:
        cipher = secret_cipher(self.encryption_keys)
        key_id = ACCESS_KEY_PREFIX + "".join(
            secrets.choice(_ACCESS_KEY_ALPHABET) for _ in range(ACCESS_KEY_ID_LENGTH - len(ACCESS_KEY_PREFIX))
        )
        secret = secrets.token_urlsafe(SECRET_BYTES)
        row = RekognitionAccessKey(
            id=key_id,
            project_id=project_id,
            secret_encrypted=cipher.encrypt(secret.encode()).decode(),
            label=label,
            created_at=utc_now(),
        )
        add_project_row(self.db, row, project_id)
        return IssuedAccessKey(key_id, project_id, secret, label, row.created_at)

    def active(self, key_id: str) -> ActiveAccessKey | None:
        """The key with its clear secret when it exists and is not revoked, else None."""
        with self.db.session() as session:
            key = session.get(RekognitionAccessKey, key_id)
            if key is None or key.revoked_at is not None:
                return None
            encrypted, project_id = key.secret_encrypted, key.project_id
        try:
            secret = secret_cipher(self.encryption_keys).decrypt(encrypted.encode()).decode()
        except InvalidToken:  # encrypted under a key no longer configured
            return None
        return ActiveAccessKey(key_id, project_id, secret)

    def list(self, project_id: str) -> builtins.list[AccessKeyRow]:
        with self.db.session() as session:
            rows = session.scalars(
                select(RekognitionAccessKey)
                .where(RekognitionAccessKey.project_id == project_id)
                .order_by(RekognitionAccessKey.created_at, RekognitionAccessKey.id)
            )
            return [AccessKeyRow(r.id, r.project_id, r.label, r.created_at, r.revoked_at) for r in rows]

    def revoke(self, project_id: str, key_id: str) -> bool:
        """True when the project had this key and it was active."""
        with self.db.session() as session:
            result = session.execute(
                update(RekognitionAccessKey)
                .where(
                    RekognitionAccessKey.id == key_id,
                    RekognitionAccessKey.project_id == project_id,
                    RekognitionAccessKey.revoked_at.is_(None),
                )
                .values(revoked_at=utc_now())
                .execution_options(synchronize_session=False)
            )
            return bool(affected_rows(result))

    def reencrypt(self) -> int:
        """Re-encrypt every secret under the first configured key (after a rotation)."""
        cipher = secret_cipher(self.encryption_keys)
        with self.db.session() as session:
            keys = list(session.scalars(select(RekognitionAccessKey)))
            for key in keys:
                key.secret_encrypted = cipher.rotate(key.secret_encrypted.encode()).decode()
            return len(keys)


class CollectionRepo:
    def __init__(self, database: Database) -> None:
        self.db = database

    def add(self, project_id: str, collection_id: str, face_set_id: str) -> CollectionRow:
        row = RekognitionCollection(
            project_id=project_id, collection_id=collection_id, face_set_id=face_set_id, created_at=utc_now()
        )
        try:
            with self.db.session() as session:
                session.add(row)
                session.flush()
                return CollectionRow(project_id, collection_id, face_set_id, row.created_at)
        except IntegrityError as taken:
            raise DuplicateName(f"collection {collection_id!r} already exists") from taken

    def get(self, project_id: str, collection_id: str) -> CollectionRow | None:
        with self.db.session() as session:
            row = session.scalars(_collection(project_id, collection_id)).one_or_none()
            return CollectionRow.of(row) if row else None

    def page(self, project_id: str, after: str | None, limit: int) -> builtins.list[CollectionRow]:
        """Collections ordered by id, those after ``after`` (exclusive)."""
        query = select(RekognitionCollection).where(RekognitionCollection.project_id == project_id)
        if after is not None:
            query = query.where(RekognitionCollection.collection_id > after)
        query = query.order_by(RekognitionCollection.collection_id).limit(limit)
        with self.db.session() as session:
            return [CollectionRow.of(row) for row in session.scalars(query)]

    def remove(self, project_id: str, collection_id: str) -> CollectionRow | None:
        """Deletes the mapping and the collection's users; the removed mapping, or None."""
        with self.db.session() as session:
            row = session.scalars(_collection(project_id, collection_id)).one_or_none()
            if row is None:
                return None
            removed = CollectionRow.of(row)
            session.execute(delete(RekognitionUser).where(RekognitionUser.face_set_id == row.face_set_id))
            session.delete(row)
            return removed


class UserRepo:
    def __init__(self, database: Database) -> None:
        self.db = database

    def add(self, project_id: str, face_set_id: str, user_id: str) -> bool:
        """False when the user already exists."""
        try:
            with self.db.session() as session:
                session.add(
                    RekognitionUser(
                        project_id=project_id, face_set_id=face_set_id, user_id=user_id, created_at=utc_now()
                    )
                )
                session.flush()
        except IntegrityError:
            return False
        return True

    def exists(self, face_set_id: str, user_id: str) -> bool:
        with self.db.session() as session:
            found = session.scalar(
                select(func.count())
                .select_from(RekognitionUser)
                .where(RekognitionUser.face_set_id == face_set_id, RekognitionUser.user_id == user_id)
            )
            return bool(found)

    def count(self, face_set_id: str) -> int:
        with self.db.session() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(RekognitionUser)
                    .where(RekognitionUser.face_set_id == face_set_id)
                )
                or 0
            )

    def remove(self, face_set_id: str, user_id: str) -> bool:
        with self.db.session() as session:
            result = session.execute(
                delete(RekognitionUser).where(
                    RekognitionUser.face_set_id == face_set_id, RekognitionUser.user_id == user_id
                )
            )
            return bool(affected_rows(result))

    def page(self, face_set_id: str, after: str | None, limit: int) -> builtins.list[str]:
        query = select(RekognitionUser.user_id).where(RekognitionUser.face_set_id == face_set_id)
        if after is not None:
            query = query.where(RekognitionUser.user_id > after)
        with self.db.session() as session:
            return list(session.scalars(query.order_by(RekognitionUser.user_id).limit(limit)))


class ImageSizeRepo:
    def __init__(self, database: Database) -> None:
        self.db = database

    def remember(self, image_key: str, width: int, height: int) -> None:
        try:
            with self.db.session() as session:
                if session.get(RekognitionImage, image_key) is None:
                    session.add(RekognitionImage(image_key=image_key, width=width, height=height))
        except IntegrityError:
            pass  # a concurrent insert of the same content key stored the same size

    def sizes(self, image_keys: Sequence[str]) -> dict[str, tuple[int, int]]:
        if not image_keys:
            return {}
        with self.db.session() as session:
            rows = session.scalars(
                select(RekognitionImage).where(RekognitionImage.image_key.in_(set(image_keys)))
            )
            return {row.image_key: (row.width, row.height) for row in rows}


def _collection(project_id: str, collection_id: str) -> Select[RekognitionCollection]:
    return select(RekognitionCollection).where(
        RekognitionCollection.project_id == project_id,
        RekognitionCollection.collection_id == collection_id,
    )
