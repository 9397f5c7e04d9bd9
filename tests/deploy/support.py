"""Readers for the deployment files, shared by the tests in this folder.

Everything here derives its expectations from the code (Settings, QueueName, pyproject,
Makefile) so the tests follow the project instead of a copied list.
"""

from __future__ import annotations

import re
import shlex
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from pydantic import BaseModel, SecretStr

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DIR = REPO_ROOT / "infra" / "deploy"
ENV_PREFIX = "FACEFLEET_"
NESTED_DELIMITER = "__"


# --- Settings --------------------------------------------------------------------------


@dataclass(frozen=True)
class SettingsLeaf:
    env_name: str
    annotation: Any
    default: Any


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    candidates = [annotation]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        candidates = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def settings_leaves(model: type[BaseModel], prefix: str = ENV_PREFIX) -> dict[str, SettingsLeaf]:
    """Every environment variable a pydantic(-settings) model reads, walking nested models
    with the `__` delimiter: FACEFLEET_DATABASE__URL, FACEFLEET_PIPELINE__GPU_POOL, ..."""
    leaves: dict[str, SettingsLeaf] = {}
    for name, info in model.model_fields.items():
        env_name = f"{prefix}{name.upper()}"
        nested = _nested_model(info.annotation)
        if nested is not None:
            leaves.update(settings_leaves(nested, env_name + NESTED_DELIMITER))
            continue
        default = info.default_factory() if info.default_factory is not None else info.default  # type: ignore[call-arg]
        leaves[env_name] = SettingsLeaf(env_name, info.annotation, default)
    return leaves


_LOCAL_DEFAULT = re.compile(r"127\.0\.0\.1|localhost|sqlite|^\.facefleet|^(embedded|local)$")


def points_at_this_machine(default: Any) -> bool:
    """A default that is right for the embedded mode and silently wrong in a container:
    a loopback address, an SQLite URL, a path under .facefleet, the embedded/local kinds,
    or an empty credential."""
    if isinstance(default, SecretStr):
        return default.get_secret_value() == ""
    return default is not None and bool(_LOCAL_DEFAULT.search(str(default)))


# --- pyproject and requirement files ----------------------------------------------------


def pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())


def requirements_by_name(lines: list[str]) -> dict[str, Requirement]:
    parsed = [Requirement(line) for line in lines]
    return {canonicalize_name(req.name): req for req in parsed}


def read_requirements_file(path: Path) -> dict[str, Requirement]:
    lines = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
    return requirements_by_name([line for line in lines if line])


# --- Dockerfiles ------------------------------------------------------------------------


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [value for key, value in self.instructions if key == keyword]

    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for line in self.args("ENV"):
            for token in shlex.split(line):
                key, _, value = token.partition("=")
                values[key] = value
        return values


def parse_dockerfile(path: Path) -> list[Stage]:
    """Stages with their instructions, continuation lines joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(base=parts[0], name=name))
        elif stages:
            stages[-1].instructions.append((keyword, rest.strip()))
    return stages


def run_commands(stages: list[Stage]) -> list[list[str]]:
    """Every simple command of every RUN, split on && / ; and tokenised."""
    commands: list[list[str]] = []
    for stage in stages:
        for line in stage.args("RUN"):
            for part in re.split(r"&&|;|\bthen\b|\belse\b|\bfi\b", line):
                tokens = shlex.split(part)
                if tokens and tokens[0] in {"if", "elif"}:
                    continue
                if tokens:
                    commands.append(tokens)
    return commands


# --- Makefile ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PipInstall:
    target: str
    extras: frozenset[str]
    options: frozenset[str]


def parse_pip_install(tokens: list[str]) -> PipInstall | None:
    """`pip install [opts] TARGET` (also `python -m pip ...`); None for other commands."""
    if "install" not in tokens or "pip" not in " ".join(tokens[: tokens.index("install")]):
        return None
    args = tokens[tokens.index("install") + 1 :]
    options = frozenset(arg for arg in args if arg.startswith("-") and arg != "-e")
    targets = [arg for arg in args if not arg.startswith("-")]
    if "-r" in args:
        targets = [arg for arg in targets if arg != args[args.index("-r") + 1]]
    if not targets:
        return PipInstall(target="-r " + args[args.index("-r") + 1], extras=frozenset(), options=options)
    target = targets[0]
    match = re.fullmatch(r"(?P<path>[^\[]+)(\[(?P<extras>[^\]]*)\])?", target)
    assert match is not None, target
    extras = frozenset(e.strip() for e in (match.group("extras") or "").split(",") if e.strip())
    return PipInstall(target=match.group("path"), extras=extras, options=options)


def makefile_commands() -> list[list[str]]:
    commands: list[list[str]] = []
    # A recipe line ending in a backslash continues on the next line.
    text = (REPO_ROOT / "Makefile").read_text().replace("\\\n", " ")
    for line in text.splitlines():
        if line.startswith("\t"):
            commands.append(shlex.split(line.strip().lstrip("@")))
    return commands


def python_module_calls(commands: list[list[str]], module: str) -> list[list[str]]:
    """The arguments after `-m MODULE` in every command that runs that module."""
    calls: list[list[str]] = []
    for tokens in commands:
        for index, token in enumerate(tokens[:-1]):
            if token == "-m" and tokens[index + 1] == module:
                calls.append(tokens[index + 2 :])
    return calls
