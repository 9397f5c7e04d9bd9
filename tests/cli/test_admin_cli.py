"""`facefleet project|key`: over the admin HTTP API (--url, --admin-token) and on a local
home (--home, as `facefleet up`); a wrong home is a one-line error that creates nothing."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import SecretStr
from werkzeug.serving import make_server

from facefleet.cli import main
from infra.db import migrate
from infra.settings import Settings

ADMIN_TOKEN = "cli-admin-0123456789abcdef0123456789"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    settings = Settings.embedded(tmp_path / "home")
    settings.data_dir.mkdir(parents=True)
    migrate(settings.database.url)
    return tmp_path / "home"


@pytest.fixture
def admin_url(home: Path) -> Iterator[str]:
    from api.app import create_app

    settings = Settings.embedded(home)
    settings = settings.model_copy(update={"api": settings.api.model_copy(update={"admin_token": SecretStr(ADMIN_TOKEN)})})
    server = make_server("127.0.0.1", 0, create_app(settings), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_keys_are_created_listed_and_revoked_over_http(admin_url: str) -> None:
    http = ("--url", admin_url, "--admin-token", ADMIN_TOKEN)
    created = run("project", "create", "cli-http", *http)
    project_id = re.search(r"project_id: (\S+)", created).group(1)  # type: ignore[union-attr]
    first = re.search(r"key_id:  (\S+)", created).group(1)  # type: ignore[union-attr]
    assert re.search(rf"api_key: ffk_{first}\.\S+", created) and "webhook_secret: " in created
    second = re.search(r"key_id:  (\S+)", run("key", "create", project_id, "--name", "rotation", *http)).group(1)  # type: ignore[union-attr]
    listed = run("key", "list", project_id, *http)
    assert first in listed and second in listed and "rotation" in listed and "ffk_" not in listed
    assert f"revoked {first} at " in run("key", "revoke", first, "--project", project_id, *http)
    assert "cli-http" in run("project", "list", *http)

    refused = CliRunner().invoke(main, ["project", "list", "--url", admin_url, "--admin-token", "wrong"])
    assert refused.exit_code == 1 and "FRS.0003" in refused.output and "Traceback" not in refused.output


def test_local_use_with_the_home_of_facefleet_up(home: Path) -> None:
    created = run("project", "create", "cli-local", "--home", str(home))
    project_id = re.search(r"project_id: (\S+)", created).group(1)  # type: ignore[union-attr]
    key_id = re.search(r"key_id:  (\S+)", created).group(1)  # type: ignore[union-attr]
    assert key_id in run("key", "list", project_id, "--home", str(home))
    assert f"revoked {key_id}" in run("key", "revoke", key_id, "--home", str(home))


def test_a_wrong_home_is_a_one_line_error_and_creates_no_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for args in (["key", "create", "p"], ["project", "list", "--home", str(tmp_path / "elsewhere")]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: no FaceFleet data at"), result.output
    assert list(tmp_path.iterdir()) == [], "nothing was created"


def test_a_database_named_in_the_environment_wins_over_a_local_folder(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A checkout holds a .facefleet folder for its models; an operator who names the
    # database (as the distributed deployment does) must get that one, not the folder's.
    workdir = tmp_path / "checkout"
    (workdir / ".facefleet").mkdir(parents=True)
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("FACEFLEET_DATABASE__URL", Settings.embedded(home).database.url)
    created = run("project", "create", "cli-env")
    assert "project_id: " in created
    assert "cli-env" in run("project", "list", "--home", str(home))
    assert list((workdir / ".facefleet").iterdir()) == [], "nothing was created in the folder"
