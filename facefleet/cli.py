"""The `facefleet` command: run the service and administer projects and keys."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from facefleet.worker_args import ALL_CPU_QUEUES, celery_worker_args
from infra.settings import Settings


@click.group()
def main() -> None:
    """FaceFleet: self-hosted face recognition."""


@main.command()
@click.option("--home", type=click.Path(path_type=Path), default=Path(".facefleet"), show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", "worker_count", default=1, show_default=True, type=int, help="worker processes")
def up(home: Path, host: str, port: int, worker_count: int) -> None:
    """Run the embedded single-machine service: API, worker and embedded stores, no servers."""
    from facefleet.embedded import run_embedded

    sys.exit(run_embedded(home=home, host=host, port=port, worker_count=worker_count))


@main.command()
@click.option("--queues", default=",".join(ALL_CPU_QUEUES), show_default=True)
@click.option("--concurrency", default=1, show_default=True, type=int)
@click.option("--pool", default="prefork", show_default=True)
@click.option("--name", default="worker@%h", show_default=True)
@click.option(
    "--nice",
    "niceness",
    default=0,
    show_default=True,
    type=click.IntRange(0, 19),
    help="lower CPU priority: bulk pools at 10 yield the cores to interactive ones on the same host",
)
def worker(queues: str, concurrency: int, pool: str, name: str, niceness: int) -> None:
    """Run a worker consuming the given queues (use facefleet.gpu for a GPU pool).

    Its job metrics: on ``FACEFLEET_METRICS__WORKER_PORT`` when set (docs/OPERATIONS.md)."""
    from facefleet.metrics_dir import multiprocess_metrics

    if niceness:
        os.nice(niceness)  # inherited by the pool's children
    # Before workers.app is imported: the pool's children count in the folder's files.
    with multiprocess_metrics(shared=Settings().metrics.shared_multiprocess_dir):
        from workers.app import app

        app.worker_main(celery_worker_args(queues, concurrency, pool, name))


@main.command()
@click.option("--bind", default="0.0.0.0:8080", show_default=True)
def api(bind: str) -> None:
    """Serve the HTTP API under gunicorn (distributed mode)."""
    from facefleet.serve import serve_api

    serve_api(Settings(), bind=bind)


@main.command()
def migrate() -> None:
    """Create or upgrade the SQL schema (Alembic)."""
    from infra.db import migrate as run_migrations

    settings = Settings()
    run_migrations(settings.database.url)
    click.echo("database is at the latest revision")


@main.command()
@click.option(
    "--grace-minutes",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="keep leftovers younger than this: they may belong to work in flight",
)
def reconcile(grace_minutes: float) -> None:
    """Remove vectors without a face row, images and crops no face refers to, and probes past
    their retention, now (every worker's housekeeper also runs it about every 10 minutes)."""
    from workers.maintenance import main as maintenance

    sys.exit(maintenance(["reconcile", "--grace-seconds", str(grace_minutes * 60)]))


@main.group("models")
def models_group() -> None:
    """Register bring-your-own recognition models (ArcFace family, .onnx)."""


@models_group.command("add")
@click.argument("name")
@click.option("--file", "file", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--sha256", "sha256", required=True, help="the file's SHA-256, checked now and on every load")
@click.option(
    "--threshold",
    type=float,
    default=None,
    help="same-person distance measured on your data (unit vectors: cosine c is distance sqrt(2 - 2c)); "
    "without it, search such a face set with far= or a similarity threshold",
)
def models_add(name: str, file: Path, sha256: str, threshold: float | None) -> None:
    """Store FILE in the object store as model NAME; face sets then use it as arcface-NAME."""
    from infra.model_registry import RegistrationError, register
    from infra.object_store import object_store_from_settings

    try:
        record = register(object_store_from_settings(Settings()), name, file, sha256, threshold)
    except RegistrationError as refused:
        raise click.ClickException(str(refused)) from refused
    click.echo(f"registered {record.model_id} (sha256 {record.sha256})")


@models_group.command("list")
def models_list() -> None:
    from infra.model_registry import registered
    from infra.object_store import object_store_from_settings

    for record in registered(object_store_from_settings(Settings())):
        threshold = (
            "no threshold (far= only)" if record.threshold is None else f"threshold {record.threshold}"
        )
        click.echo(f"{record.model_id}\t{record.sha256}\t{threshold}")


def _register_client_commands() -> None:
    from facefleet.access_keys import access_key
    from facefleet.admin_cli import key, project
    from facefleet.commands import register

    main.add_command(project)
    main.add_command(key)
    register(main)
    main.add_command(access_key)


_register_client_commands()

if __name__ == "__main__":
    main()
