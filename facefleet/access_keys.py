"""`facefleet access-key …`: the Rekognition endpoint's access-key pairs (create, list,
revoke), a new server encryption key, and re-encryption after rotating it."""

from __future__ import annotations

import click

from facefleet.rekognition_key import with_rekognition_server_key
from infra.db import Database
from infra.db.errors import NotFound
from infra.db.rekognition import AccessKeyRepo, EncryptionNotConfigured, IssuedAccessKey, new_encryption_key
from infra.settings import Settings


def _repo(settings: Settings) -> tuple[Database, AccessKeyRepo]:
    settings = with_rekognition_server_key(settings)  # embedded mode's own key, when none is set
    database = Database.from_settings(settings.database)
    keys = [key.get_secret_value() for key in settings.rekognition.encryption_keys]
    return database, AccessKeyRepo(database, keys)


def create_access_key(settings: Settings, project_id: str, label: str | None = None) -> IssuedAccessKey:
    database, repo = _repo(settings)
    try:
        return repo.create(project_id, label)
    finally:
        database.dispose()


@click.group("access-key")
def access_key() -> None:
    """Access-key pairs of the Rekognition-compatible endpoint (docs/REKOGNITION.md)."""


@access_key.command("create")
@click.argument("project_id")
@click.option("--label", default=None)
def create(project_id: str, label: str | None) -> None:
    try:
        issued = create_access_key(Settings(), project_id, label)
    except (EncryptionNotConfigured, NotFound) as refused:
        raise click.ClickException(str(refused)) from refused
    click.echo(f"aws_access_key_id:     {issued.id}")
    click.echo(f"aws_secret_access_key: {issued.secret}   (shown once; store it now)")


@access_key.command("list")
@click.argument("project_id")
def list_keys(project_id: str) -> None:
    database, repo = _repo(Settings())
    try:
        for key in repo.list(project_id):
            state = f"revoked {key.revoked_at.isoformat()}" if key.revoked_at else "active"
            click.echo(f"{key.id}\t{state}\t{key.label or ''}")
    finally:
        database.dispose()


@access_key.command("revoke")
@click.argument("project_id")
@click.argument("access_key_id")
def revoke(project_id: str, access_key_id: str) -> None:
    database, repo = _repo(Settings())
    try:
        if not repo.revoke(project_id, access_key_id):
            raise click.ClickException(f"project {project_id} has no active access key {access_key_id}")
    finally:
        database.dispose()
    click.echo(f"revoked {access_key_id}")


@access_key.command("new-encryption-key")
def new_key() -> None:
    """Print a fresh server key for FACEFLEET_REKOGNITION__ENCRYPTION_KEYS."""
    click.echo(new_encryption_key())


@access_key.command("reencrypt")
def reencrypt() -> None:
    """Re-encrypt every stored secret under the first configured server key (rotation)."""
    database, repo = _repo(Settings())
    try:
        count = repo.reencrypt()
    except EncryptionNotConfigured as refused:
        raise click.ClickException(str(refused)) from refused
    finally:
        database.dispose()
    click.echo(f"re-encrypted {count} access keys")
