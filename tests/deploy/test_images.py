"""infra/deploy/Dockerfile.*: pinned, multi-stage, non-root, installing what the Makefile
installs; the API image's dependency subset stays equal to pyproject and sufficient."""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import grimp
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy.support import (
    DEPLOY_DIR,
    REPO_ROOT,
    Stage,
    makefile_commands,
    parse_dockerfile,
    parse_pip_install,
    pyproject,
    python_module_calls,
    read_requirements_file,
    requirements_by_name,
    run_commands,
)

API_DOCKERFILE = DEPLOY_DIR / "Dockerfile.api"
WORKER_DOCKERFILE = DEPLOY_DIR / "Dockerfile.worker"
API_REQUIREMENTS = DEPLOY_DIR / "requirements-api.txt"
GPU_REQUIREMENTS = DEPLOY_DIR / "requirements-gpu.txt"
PROJECT_PACKAGES = ("core", "api", "workers", "pipelines", "infra", "facefleet")
MODELS_SETUP = "facefleet.models_setup"
# `python -m venv` on 3.11 seeds these into every venv, the image's included.
VENV_SEED = {"pip", "setuptools"}
# CLI commands that run only in the worker image or in embedded mode: the worker itself and
# its stores' maintenance.
NOT_IN_API_IMAGE = {"worker", "up", "reconcile"}


@functools.cache
def _import_providers() -> dict[str, frozenset[str]]:
    """Top-level import name -> distributions, from each distribution's RECORD.

    importlib.metadata.packages_distributions() trusts top_level.txt, which some wheels get
    wrong (dlib-bin lists only _dlib_pybind11, not dlib)."""
    providers: dict[str, set[str]] = {}
    for dist in importlib.metadata.distributions():
        name = canonicalize_name(dist.metadata["Name"])
        for line in (dist.read_text("RECORD") or "").splitlines():
            top, is_folder, _ = line.split(",", 1)[0].partition("/")
            top = top if is_folder else top.split(".")[0]
            if top and not top.endswith((".dist-info", ".data")) and top not in {"..", "__pycache__"}:
                providers.setdefault(top, set()).add(name)
    return {top: frozenset(dists) for top, dists in providers.items()}


def _core_requirements() -> dict[str, Requirement]:
    return requirements_by_name(pyproject()["project"]["dependencies"])


def _project_installs(commands: list[list[str]], source: str) -> list[tuple[frozenset[str], frozenset[str]]]:
    """(extras, options) of every `pip install` of the project checked out at `source`."""
    installs = [parse_pip_install(tokens) for tokens in commands]
    return [(i.extras, i.options) for i in installs if i is not None and i.target.rstrip("/") == source]


def _copied_to(stage: Stage, destination: str) -> list[str]:
    return [line.rsplit(" ", 1)[0] for line in stage.args("COPY") if line.rsplit(" ", 1)[1] == destination]


# --- base images, stages, user ----------------------------------------------------------


@pytest.mark.parametrize("dockerfile", [API_DOCKERFILE, WORKER_DOCKERFILE], ids=lambda p: p.name)
def test_image_is_multi_stage_pinned_and_runs_as_non_root(dockerfile: Path) -> None:
    stages = parse_dockerfile(dockerfile)
    assert len(stages) >= 2, "build tools must stay in a build stage"
    stage_names = {stage.name for stage in stages if stage.name}
    for stage in stages:
        if stage.base in stage_names:
            continue
        assert "@sha256:" in stage.base or re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", stage.base), (
            f"unpinned base image {stage.base}"
        )
    final = stages[-1]
    users = final.args("USER")
    assert users, "the final stage must switch to a non-root user"
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert all(parse_pip_install(tokens) is None for tokens in run_commands([final])), (
        "the final stage installs nothing; it copies the venv built in the build stage"
    )
    assert any(line.startswith("--from=") for line in final.args("COPY"))


# --- same install steps as the Makefile ---------------------------------------------------


def test_worker_image_installs_the_project_as_the_makefile_does() -> None:
    make = makefile_commands()
    ((make_extras, _),) = _project_installs(make, ".")
    stages = parse_dockerfile(WORKER_DOCKERFILE)
    build = stages[0]
    assert _copied_to(build, "/src") == ["."]
    ((docker_extras, docker_options),) = _project_installs(run_commands(stages), "/src")
    # The image drops only [dev] (test and lint tools); everything else is identical.
    assert docker_extras == make_extras - {"dev"}
    assert "--no-deps" not in docker_options
    assert set(pyproject()["project"]["optional-dependencies"]) - {"dev"} >= docker_extras


def test_worker_image_bakes_models_with_the_makefile_models_setup_call() -> None:
    (make_args,) = python_module_calls(makefile_commands(), MODELS_SETUP)
    stages = parse_dockerfile(WORKER_DOCKERFILE)
    (docker_args,) = python_module_calls(run_commands(stages), MODELS_SETUP)
    make_flags = [arg for arg in make_args if arg.startswith("--")]
    assert [arg for arg in docker_args if arg.startswith("--")] == make_flags
    home = docker_args[docker_args.index("--home") + 1]
    final = stages[-1]
    assert final.env()["FACEFLEET_MODELS__HOME"] == home
    assert f"--from={stages[0].name} {home} {home}" in final.args("COPY")
    assert importlib.util.find_spec(MODELS_SETUP) is not None, f"{MODELS_SETUP} is missing"


def test_api_image_installs_the_project_without_the_ml_stack() -> None:
    ((make_extras, _),) = _project_installs(makefile_commands(), ".")
    stages = parse_dockerfile(API_DOCKERFILE)
    assert _copied_to(stages[0], "/src") == ["."]
    commands = run_commands(stages)
    ((docker_extras, docker_options),) = _project_installs(commands, "/src")
    assert docker_extras == make_extras - {"dev"}
    assert "--no-deps" in docker_options
    installs = [parse_pip_install(tokens) for tokens in commands]
    assert any(i is not None and i.target == "-r /tmp/requirements-api.txt" for i in installs)
    assert f"{API_REQUIREMENTS.relative_to(REPO_ROOT)} /tmp/requirements-api.txt" in stages[0].args("COPY")
    assert python_module_calls(commands, MODELS_SETUP) == []


# --- the API's dependency subset -----------------------------------------------------------


def test_api_requirements_are_copied_verbatim_from_pyproject() -> None:
    core = _core_requirements()
    for name, requirement in read_requirements_file(API_REQUIREMENTS).items():
        assert name in core, f"{name} is not a core dependency in pyproject.toml"
        assert str(requirement) == str(core[name]), f"{name}: API pins {requirement}, pyproject {core[name]}"


def test_gpu_requirements_track_the_cpu_pins() -> None:
    core = _core_requirements()
    gpu = read_requirements_file(GPU_REQUIREMENTS)
    assert gpu["tensorflow"].specifier == core["tensorflow"].specifier
    assert "and-cuda" in gpu["tensorflow"].extras
    assert gpu["onnxruntime-gpu"].specifier == core["onnxruntime"].specifier


def _installed_closure(requirements: dict[str, Requirement]) -> set[str]:
    """Distribution names pip would install for these requirements (from installed metadata)."""
    seen: set[str] = set()
    pending = [(name, frozenset(req.extras)) for name, req in requirements.items()]
    while pending:
        name, extras = pending.pop()
        if name in seen and not extras:
            continue
        seen.add(name)
        for line in importlib.metadata.requires(name) or []:
            dependency = Requirement(line)
            environments = [{"extra": extra} for extra in extras] or [{"extra": ""}]
            if dependency.marker is None or any(dependency.marker.evaluate(env) for env in environments):
                pending.append((canonicalize_name(dependency.name), frozenset(dependency.extras)))
    return seen


def _api_image_distributions() -> set[str]:
    return _installed_closure(read_requirements_file(API_REQUIREMENTS)) | VENV_SEED | {"facefleet"}


def _forbidden_api_modules() -> list[str]:
    contracts = pyproject()["tool"]["importlinter"]["contracts"]
    (contract,) = [
        c for c in contracts if c.get("source_modules") == ["api"] and "tensorflow" in c.get("forbidden_modules", [])
    ]
    return [module for module in contract["forbidden_modules"] if module not in PROJECT_PACKAGES]


def test_api_image_contains_no_package_the_api_is_forbidden_to_import() -> None:
    providers = _import_providers()
    allowed = _api_image_distributions()
    for module in _forbidden_api_modules():
        dists = providers.get(module, set())
        assert dists, f"cannot tell which distribution provides {module}"
        assert dists.isdisjoint(allowed), (
            f"{module} would be installed in the API image via {dists & allowed}"
        )


def _api_image_entry_modules() -> list[str]:
    """Modules the API image runs: every api module, gunicorn's loader, and whatever the CLI
    commands other than the worker/embedded ones import lazily."""
    entries = ["facefleet.serve"]
    cli = ast.parse((REPO_ROOT / "facefleet" / "cli.py").read_text())
    for function in (node for node in cli.body if isinstance(node, ast.FunctionDef)):
        if function.name in NOT_IN_API_IMAGE:
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                entries.append(node.module)
    # Modules the lead has not written yet are the CLI's concern, not the image's.
    return [module for module in dict.fromkeys(entries) if importlib.util.find_spec(module) is not None]


def _api_module_closure() -> tuple[set[str], set[str]]:
    """(project modules, external top-level packages) reachable from the API image's entry
    points, following every import statement, including lazy ones inside functions."""
    graph = grimp.build_graph(*PROJECT_PACKAGES, include_external_packages=True)
    starts = {m for m in graph.modules if m == "api" or m.startswith("api.")} | set(
        _api_image_entry_modules()
    )
    reachable = set(starts)
    for module in starts:
        reachable |= graph.find_upstream_modules(module)
    project = {m for m in reachable if m.split(".")[0] in PROJECT_PACKAGES}
    external = {m.split(".")[0] for m in reachable - project}
    return project, external


def test_every_third_party_import_of_the_api_image_is_in_its_requirements() -> None:
    project_modules, external = _api_module_closure()
    assert "workers.app" not in project_modules and not any(
        m.startswith("pipelines") for m in project_modules
    )
    providers = _import_providers()
    allowed = _api_image_distributions()
    missing = {top: providers[top] for top in external if top in providers and not providers[top] & allowed}
    assert missing == {}, f"add these to {API_REQUIREMENTS.name} (same pin as pyproject)"


_IMPORT_PROBE = """
import importlib, importlib.abc, importlib.machinery, json, sys, time
blocked, modules = set(json.loads(sys.argv[1])), json.loads(sys.argv[2])

class ApiImageOnly(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"{name} is not installed in the API image", name=name)
        return None

sys.meta_path.insert(0, ApiImageOnly())
started = time.perf_counter()
for module in modules:
    importlib.import_module(module)
print(json.dumps({"seconds": time.perf_counter() - started}))
"""


def test_api_image_modules_import_with_only_the_api_requirements() -> None:
    """Imports everything the API image runs in a fresh interpreter in which every
    distribution outside requirements-api.txt's closure is unimportable: the image without
    building it."""
    project_modules, _ = _api_module_closure()
    allowed = _api_image_distributions()
    blocked = sorted(
        top
        for top, dists in _import_providers().items()
        if top not in PROJECT_PACKAGES and not dists & allowed
    )
    assert {"tensorflow", "cv2", "dlib"} <= set(blocked) and "flask" not in blocked
    # The console script imports the CLI module itself (its lazy imports are covered above).
    modules = ["facefleet.cli", *sorted(project_modules)]
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE, json.dumps(blocked), json.dumps(modules)],
        cwd=REPO_ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # Cold interpreter, every API module: about a second on an idle core. The bound is loose
    # (a loaded CI machine takes 4x as long); it catches a heavy import slipping in.
    assert json.loads(result.stdout)["seconds"] < 10.0


# --- what `pip install /src` puts in both images -----------------------------------------


def test_the_built_wheel_ships_every_source_file(tmp_path: Path) -> None:
    """Both images install a wheel, not the checkout: a file the wheel lacks (a migration in
    a folder without __init__.py, a data file outside package-data) is missing in production."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO_ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "deploy")
    for package in PROJECT_PACKAGES:
        shutil.copytree(REPO_ROOT / package, source / package, ignore=ignore)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(tmp_path / "dist"),
            str(source),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("facefleet-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        str(path.relative_to(source))
        for package in PROJECT_PACKAGES
        for path in (source / package).rglob("*")
        if path.is_file()
    }
    assert expected - shipped == set()


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_build_context() -> None:
    patterns = [
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for private in (".env", ".venv", ".git", ".facefleet"):
        assert private in patterns, private
    needed = ["pyproject.toml", "README.md", *PROJECT_PACKAGES, "infra/deploy"]
    assert not set(needed) & set(patterns)
