"""`facefleet project …` and `facefleet key …`: over the admin HTTP API (``--url`` with
``--admin-token``) or, on the service's own machine, on its data (``--home``, the same as
``facefleet up``; or the configured database in distributed mode).

Local use never creates a database: a home without FaceFleet data is a one-line error,
not a fresh empty SQLite file that then fails with "no such table".
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import click
import requests

from infra.settings import Settings

DATABASE_URL_ENV = "FACEFLEET_DATABASE__URL"

REQUEST_TIMEOUT_SECONDS = 30.0


class AdminBackend(Protocol):
    def create_project(self, name: str) -> dict[str, Any]: ...
    def list_projects(self) -> list[dict[str, Any]]: ...
    def create_key(self, project_id: str, name: str | None) -> dict[str, Any]: ...
    def list_keys(self, project_id: str) -> list[dict[str, Any]]: ...
    def revoke_key(self, project_id: str | None, key_id: str) -> dict[str, Any]: ...


@dataclass
class HttpAdmin:
    url: str
    token: str

    def _call(self, method: str, path: str, json: dict[str, Any] | None = None) -> Any:
        try:
            response = requests.request(
                method,
                self.url.rstrip("/") + path,
                json=json,
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=REQUEST_TIMEOUT_SECONDS,
            )
        except requests.RequestException as unreachable:
            raise click.ClickException(f"cannot reach {self.url}: {unreachable.__class__.__name__}") from unreachable
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400:
            if isinstance(body, dict) and "error_code" in body:
                raise click.ClickException(f"{body['error_code']}: {body.get('error_msg', '')}")
            raise click.ClickException(f"{self.url} answered {response.status_code}")
        return body

    def create_project(self, name: str) -> dict[str, Any]:
        return dict(self._call("POST", "/v1/admin/projects", {"name": name}))

    def list_projects(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/v1/admin/projects")["projects"])

    def create_key(self, project_id: str, name: str | None) -> dict[str, Any]:
        return dict(self._call("POST", f"/v1/admin/projects/{project_id}/keys", {"name": name} if name else {}))

    def list_keys(self, project_id: str) -> list[dict[str, Any]]:
        return list(self._call("GET", f"/v1/admin/projects/{project_id}/keys")["keys"])

    def revoke_key(self, project_id: str | None, key_id: str) -> dict[str, Any]:
        if project_id is None:
            raise click.ClickException("--project is needed to revoke a key over HTTP")
        return dict(self._call("DELETE", f"/v1/admin/projects/{project_id}/keys/{key_id}"))


class LocalAdmin:
    """The same operations on the database itself."""

    def __init__(self, settings: Settings) -> None:
        from infra.db import Database
        from infra.db.repositories import ApiKeyRepo, ProjectRepo

        self.database = Database.from_settings(settings.database)
        self.projects = ProjectRepo(self.database)
        self.keys = ApiKeyRepo(self.database)

    def close(self) -> None:
        self.database.dispose()

    def create_project(self, name: str) -> dict[str, Any]:
        from api.routes.admin import key_info, project_info
        from infra.db.errors import DuplicateName

        try:
            project = self.projects.create(name)
        except DuplicateName as taken:
            raise click.ClickException(f"a project named {name!r} already exists") from taken
        issued = self.keys.create(project.id, label="created with the project")
        return {
            **project_info(project),
            "api_key": {**key_info(issued), "key": issued.key},
            "webhook_secret": project.webhook_secret,
        }

    def list_projects(self) -> list[dict[str, Any]]:
        from api.routes.admin import project_info

        return [project_info(project) for project in self.projects.list()]

    def create_key(self, project_id: str, name: str | None) -> dict[str, Any]:
        from api.routes.admin import key_info

        self._project(project_id)
        issued = self.keys.create(project_id, label=name)
        return {**key_info(issued), "key": issued.key}

    def list_keys(self, project_id: str) -> list[dict[str, Any]]:
        from api.routes.admin import key_info

        self._project(project_id)
        return [key_info(key) for key in self.keys.list(project_id)]

    def revoke_key(self, project_id: str | None, key_id: str) -> dict[str, Any]:
        from api.routes.admin import key_info

        key = self.keys.get(key_id)
        if key is None or (project_id is not None and key.project_id != project_id):
            raise click.ClickException(f"no key {key_id}" + (f" in project {project_id}" if project_id else ""))
        self.keys.revoke(key_id)
        return key_info(self.keys.get(key_id))

    def _project(self, project_id: str) -> None:
        if self.projects.get(project_id) is None:
            raise click.ClickException(f"project {project_id} does not exist")


def local_settings(home: Path | None) -> Settings:
    """The settings of the service whose data is at ``home`` (or, without one, of the
    configured database), refusing any database that does not exist yet."""
    if home is not None:
        settings = Settings.embedded(home.resolve())
    else:
        settings = Settings()
    url = settings.database.url
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[-1]) if "///" in url else None
        if path is None or not path.is_file():
            where = f"--home {home}" if home is not None else "the current directory's .facefleet"
            raise click.ClickException(
                f"no FaceFleet data at {path} ({where}): pass the --home given to `facefleet up`, "
                "or --url with --admin-token"
            )
    from infra.db.migrate import current_revision

    try:
        revision = current_revision(url)
    except Exception as unreachable:  # noqa: BLE001  # any failure to open it is the same one-line answer
        raise click.ClickException(f"cannot open the database: {unreachable.__class__.__name__}") from unreachable
    if revision is None:
        raise click.ClickException("the database has no FaceFleet schema; run `facefleet migrate` (or `facefleet up`) first")
    return settings


def admin_options(command: Any) -> Any:
    for option in (
        click.option(
            "--home",
            type=click.Path(path_type=Path, file_okay=False),
            default=None,
            help="local use: the --home of `facefleet up` (default .facefleet, or the configured database)",
        ),
        click.option(
            "--admin-token",
            envvar="FACEFLEET_ADMIN_TOKEN",
            default=None,
            help="the operator's admin token (env FACEFLEET_ADMIN_TOKEN): use the admin HTTP API at --url",
        ),
        click.option("--url", envvar="FACEFLEET_URL", default="http://127.0.0.1:8080", show_default=True),
    ):
        command = option(command)
    return command


def _backend(url: str, admin_token: str | None, home: Path | None) -> Any:
    if admin_token:
        if home is not None:
            raise click.ClickException("give either --home (local) or --admin-token (over HTTP), not both")
        return HttpAdmin(url, admin_token)
    if home is None and (DATABASE_URL_ENV in os.environ or not Path(".facefleet").is_dir()):
        # A database named in the environment wins over a .facefleet folder that happens to
        # be here (a checkout holds one for its models): the operator said which one.
        settings = local_settings(None)
    else:
        settings = local_settings(home if home is not None else Path(".facefleet"))
    return LocalAdmin(settings)


def _run(url: str, admin_token: str | None, home: Path | None, operation: Any) -> Any:
    backend = _backend(url, admin_token, home)
    try:
        return operation(backend)
    finally:
        close = getattr(backend, "close", None)
        if close is not None:
            close()


def _echo_key(key: dict[str, Any]) -> None:
    click.echo(f"key_id:  {key['key_id']}   (revoke with `facefleet key revoke {key['key_id']}`)")
    click.echo(f"api_key: {key['key']}   (shown once; store it now)")


@click.group()
def project() -> None:
    """Create and list projects."""


@project.command("create")
@click.argument("name")
@admin_options
def project_create(name: str, url: str, admin_token: str | None, home: Path | None) -> None:
    created = _run(url, admin_token, home, lambda backend: backend.create_project(name))
    click.echo(f"project_id: {created['project_id']}")
    _echo_key(created["api_key"])
    click.echo(f"webhook_secret: {created['webhook_secret']}   (verifies X-FaceFleet-Signature on callbacks)")


@project.command("list")
@admin_options
def project_list(url: str, admin_token: str | None, home: Path | None) -> None:
    for entry in _run(url, admin_token, home, lambda backend: backend.list_projects()):
        click.echo(f"{entry['project_id']}\t{entry['name']}\t{entry['created_at']}")


@click.group()
def key() -> None:
    """Create, list and revoke API keys (rotation: create, move clients, revoke the old)."""


@key.command("create")
@click.argument("project_id")
@click.option("--name", default=None, help="what the key is for")
@admin_options
def key_create(project_id: str, name: str | None, url: str, admin_token: str | None, home: Path | None) -> None:
    _echo_key(_run(url, admin_token, home, lambda backend: backend.create_key(project_id, name)))


@key.command("list")
@click.argument("project_id")
@admin_options
def key_list(project_id: str, url: str, admin_token: str | None, home: Path | None) -> None:
    click.echo("key_id\tname\tcreated_at\tlast_used_at\trevoked_at")
    for entry in _run(url, admin_token, home, lambda backend: backend.list_keys(project_id)):
        fields = (entry["key_id"], entry["name"], entry["created_at"], entry["last_used_at"], entry["revoked_at"])
        click.echo("\t".join(value or "-" for value in fields))


@key.command("revoke")
@click.argument("key_id")
@click.option("--project", "project_id", default=None, help="the key's project (needed over HTTP)")
@admin_options
def key_revoke(key_id: str, project_id: str | None, url: str, admin_token: str | None, home: Path | None) -> None:
    revoked = _run(url, admin_token, home, lambda backend: backend.revoke_key(project_id, key_id))
    click.echo(f"revoked {revoked['key_id']} at {revoked['revoked_at']}")
