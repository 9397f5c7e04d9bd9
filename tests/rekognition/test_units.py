"""Pure pieces of the Rekognition front end: the similarity scale and the access-key store
(encryption at rest, rotation of the server key)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from api.rekognition.render import image_id, similarity
from infra.db import Database, migrate
from infra.db.models import RekognitionAccessKey
from infra.db.rekognition import AccessKeyRepo, EncryptionNotConfigured
from infra.db.repositories import ProjectRepo
from infra.settings import DatabaseSettings

MATCH_DISTANCE = 0.58


def test_similarity_is_monotone_with_80_at_the_match_distance() -> None:
    distances = [i / 100 for i in range(151)]
    scores = [similarity(d, MATCH_DISTANCE) for d in distances]
    assert scores[0] == 100.0
    assert all(a > b for a, b in itertools.pairwise(scores) if a > 1e-6)
    assert similarity(MATCH_DISTANCE, MATCH_DISTANCE) == pytest.approx(80.0)
    # The default threshold decides exactly as the model's match distance does.
    assert (
        similarity(MATCH_DISTANCE - 1e-4, MATCH_DISTANCE)
        > 80
        > similarity(MATCH_DISTANCE + 1e-4, MATCH_DISTANCE)
    )
    assert all(0 <= score <= 100 for score in scores)


def test_image_ids_are_stable_uuids() -> None:
    assert image_id("images/abc") == image_id("images/abc") != image_id("images/abd")
    assert len(image_id("images/abc")) == 36


def _database(tmp_path: Path) -> Database:
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    migrate(url)
    return Database.from_settings(DatabaseSettings(url=url))


def test_access_keys_are_encrypted_rotatable_and_revocable(tmp_path: Path) -> None:
    database = _database(tmp_path)
    project = ProjectRepo(database).create("keys")
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    issued = AccessKeyRepo(database, [old_key]).create(project.id, "ci")
    assert len(issued.id) == 20 and issued.id.startswith("FFAK")
    with database.session() as session:
        stored = session.scalars(select(RekognitionAccessKey.secret_encrypted)).one()
    assert issued.secret not in stored
    assert issued.secret not in repr(AccessKeyRepo(database, [old_key]).active(issued.id))

    # Rotation: the new key first, the old one still readable; re-encrypt; drop the old one.
    rotating = AccessKeyRepo(database, [new_key, old_key])
    assert rotating.active(issued.id).secret == issued.secret  # type: ignore[union-attr]
    assert rotating.reencrypt() == 1
    rotated = AccessKeyRepo(database, [new_key])
    assert rotated.active(issued.id).secret == issued.secret  # type: ignore[union-attr]
    assert AccessKeyRepo(database, [old_key]).active(issued.id) is None

    assert not rotated.revoke("another-project", issued.id)
    assert rotated.revoke(project.id, issued.id)
    assert rotated.active(issued.id) is None
    with pytest.raises(EncryptionNotConfigured):
        AccessKeyRepo(database, []).create(project.id)
    database.dispose()


def test_the_access_key_commands(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from facefleet.cli import main

    database = _database(tmp_path)
    project = ProjectRepo(database).create("cli")
    database.dispose()
    runner = CliRunner()
    server_key = runner.invoke(
        main, ["access-key", "new-encryption-key"], catch_exceptions=False
    ).output.strip()
    env = {
        "FACEFLEET_DATABASE__URL": f"sqlite:///{tmp_path / 'keys.db'}",
        "FACEFLEET_REKOGNITION__ENCRYPTION_KEYS": f'["{server_key}"]',
    }
    created = runner.invoke(
        main, ["access-key", "create", project.id, "--label", "ci"], env=env, catch_exceptions=False
    )
    assert created.exit_code == 0, created.output
    lines = dict(line.split(":", 1) for line in created.output.splitlines())
    key_id, secret = lines["aws_access_key_id"].strip(), lines["aws_secret_access_key"].split()[0]
    listed = runner.invoke(main, ["access-key", "list", project.id], env=env, catch_exceptions=False).output
    assert key_id in listed and "active" in listed and secret not in listed
    database = Database.from_settings(DatabaseSettings(url=env["FACEFLEET_DATABASE__URL"]))
    assert AccessKeyRepo(database, [server_key]).active(key_id).secret == secret  # type: ignore[union-attr]
    database.dispose()
    assert runner.invoke(main, ["access-key", "revoke", project.id, key_id], env=env).exit_code == 0
    assert "revoked" in runner.invoke(main, ["access-key", "list", project.id], env=env).output
    unconfigured = {
        **env,
        "FACEFLEET_REKOGNITION__ENCRYPTION_KEYS": "[]",
        "FACEFLEET_DATA_DIR": str(tmp_path / "data"),
    }
    refused = runner.invoke(
        main, ["access-key", "create", project.id], env={**unconfigured, "FACEFLEET_MODE": "distributed"}
    )
    assert refused.exit_code != 0 and "encryption_keys" in refused.output
    # Embedded mode makes its own server key once, in the data folder, readable only by its owner.
    made = runner.invoke(main, ["access-key", "create", project.id], env=unconfigured, catch_exceptions=False)
    assert made.exit_code == 0, made.output
    key_file = tmp_path / "data" / "rekognition-server.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    again = runner.invoke(
        main, ["access-key", "create", project.id], env=unconfigured, catch_exceptions=False
    )
    assert again.exit_code == 0 and key_file.read_text().strip()
