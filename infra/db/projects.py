"""Projects and their API keys.

A key reads ``ffk_<key id>.<secret>``. Only sha256(secret) is stored: the secret has
256 random bits, so a fast hash is enough (no password stretching needed), and the key
id finds the row without scanning. The raw key exists once, in ``IssuedApiKey.key``.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError

from infra.db.batching import add_project_row, affected_rows, new_id
from infra.db.database import Database
from infra.db.errors import DuplicateName
from infra.db.models import ApiKey, Project, utc_now
from infra.db.rows import ApiKeyRow, IssuedApiKey, ProjectRow

KEY_PREFIX = "ffk_"
KEY_ID_BYTES = 8
SECRET_BYTES = 32
KEY_USE_RESOLUTION = timedelta(minutes=1)
# Every request reads it: built once (infra.db.job_statements says why).
_KEY_BY_ID = select(ApiKey).where(ApiKey.id == bindparam("key_id"))


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_key(token: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, else None."""
    if not token.startswith(KEY_PREFIX):
        return None
    key_id, dot, secret = token[len(KEY_PREFIX) :].partition(".")
    if not dot or not key_id or not secret:
        return None
    return key_id, secret


class ProjectRepo:
    def __init__(self, database: Database) -> None:
        self.db = database

    def create(self, name: str, *, project_id: str | None = None) -> ProjectRow:
        project = Project(
            id=project_id or new_id(), name=name, webhook_secret=secrets.token_hex(32), created_at=utc_now()
        )
        try:
            with self.db.session() as session:
                session.add(project)
                session.flush()
                created = ProjectRow.of(project)
        except IntegrityError as taken:
            raise DuplicateName(f"a project named {name!r} (or with that id) already exists") from taken
        return created

    def get(self, project_id: str) -> ProjectRow | None:
        with self.db.session() as session:
            project = session.get(Project, project_id)
            return ProjectRow.of(project) if project is not None else None

    def get_by_name(self, name: str) -> ProjectRow | None:
        with self.db.session() as session:
            project = session.scalars(select(Project).where(Project.name == name)).one_or_none()
            return ProjectRow.of(project) if project is not None else None

    def webhook_secret(self, project_id: str) -> str | None:
        """The key that signs this project's webhook calls; None for an unknown project."""
        with self.db.session() as session:
            return session.scalar(select(Project.webhook_secret).where(Project.id == project_id))

    def set_default_callback_url(self, project_id: str, url: str | None) -> bool:
        """True when the project exists (None clears the URL)."""
        with self.db.session() as session:
            result = session.execute(
                update(Project)
                .where(Project.id == project_id)
                .values(default_callback_url=url)
                .execution_options(synchronize_session=False)
            )
            return bool(affected_rows(result))

    def rotate_webhook_secret(self, project_id: str) -> str | None:
        """A new signing secret (the old one stops verifying at once); None for an unknown project."""
        secret = secrets.token_hex(32)
        with self.db.session() as session:
            result = session.execute(
                update(Project)
                .where(Project.id == project_id)
                .values(webhook_secret=secret)
                .execution_options(synchronize_session=False)
            )
            return secret if affected_rows(result) else None

    def list(self) -> builtins.list[ProjectRow]:
        with self.db.session() as session:
            return [
                ProjectRow.of(p)
                for p in session.scalars(select(Project).order_by(Project.created_at, Project.id))
            ]


class ApiKeyRepo:
    def __init__(self, database: Database) -> None:
        self.db = database

    def create(self, project_id: str, label: str | None = None) -> IssuedApiKey:
        key_id = secrets.token_hex(KEY_ID_BYTES)
        secret = secrets.token_urlsafe(SECRET_BYTES)
        row = ApiKey(
            id=key_id,
            project_id=project_id,
            secret_hash=hash_secret(secret),
            label=label,
            created_at=utc_now(),
        )
        add_project_row(self.db, row, project_id)
        return IssuedApiKey(
            id=key_id,
            project_id=project_id,
            key=f"{KEY_PREFIX}{key_id}.{secret}",
            label=label,
            created_at=row.created_at,
        )

    def authenticate(self, token: str) -> ApiKeyRow | None:
        """The key's row when ``token`` is a valid, unrevoked key, else None."""
        parts = split_key(token)
        if parts is None:
            return None
        key_id, secret = parts
        # Every request reads it: one statement on a bare connection (Database.statement).
        with self.db.statement() as connection:
            key = connection.execute(_KEY_BY_ID, {"key_id": key_id}).one_or_none()
            if key is None or key.revoked_at is not None:
                return None
            if not hmac.compare_digest(key.secret_hash, hash_secret(secret)):
                return None
            return ApiKeyRow.of(key)

    def get(self, key_id: str) -> ApiKeyRow | None:
        with self.db.session() as session:
            key = session.get(ApiKey, key_id)
            return ApiKeyRow.of(key) if key is not None else None

    def touch(self, key_id: str, at_most_every: timedelta = KEY_USE_RESOLUTION) -> None:
        """Record that the key was used; one write a minute per key at most, so a busy key
        does not turn every read request into a database write."""
        now = utc_now()
        with self.db.session() as session:
            session.execute(
                update(ApiKey)
                .where(
                    ApiKey.id == key_id,
                    or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - at_most_every),
                )
                .values(last_used_at=now)
                .execution_options(synchronize_session=False)
            )

    def revoke(self, key_id: str) -> bool:
        """True when the key existed and was active."""
        with self.db.session() as session:
            result = session.execute(
                update(ApiKey)
                .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
                .values(revoked_at=utc_now())
                .execution_options(synchronize_session=False)
            )
            return bool(affected_rows(result))

    def list(self, project_id: str) -> builtins.list[ApiKeyRow]:
        with self.db.session() as session:
            keys = session.scalars(
                select(ApiKey).where(ApiKey.project_id == project_id).order_by(ApiKey.created_at, ApiKey.id)
            )
            return [ApiKeyRow.of(k) for k in keys]
