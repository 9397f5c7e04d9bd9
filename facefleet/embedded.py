"""The embedded single-machine mode: `facefleet up` (and `make run`).

One supervisor process starts, with no server to install:
- the SQLite schema (migrations),
- one milvus-lite server shared by every worker process (milvus-lite lets only one
  process open a database file),
- a Celery worker on the SQL broker transport, consuming every CPU queue (started again
  if it exits: facefleet.supervision),
- the API under gunicorn,
and stops them all on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from facefleet.metrics_dir import MULTIPROCESS_ENV, empty_metrics_dir
from facefleet.rekognition_key import with_rekognition_server_key
from facefleet.supervision import Supervisor
from facefleet.worker_args import ALL_CPU_QUEUES, celery_worker_args
from infra.settings import Settings

ENV_PREFIX = "FACEFLEET_"


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child process read exactly these settings."""
    return dict(_flatten(ENV_PREFIX, settings))


def _flatten(prefix: str, model: BaseModel) -> Iterator[tuple[str, str]]:
    for name in type(model).model_fields:
        value = getattr(model, name)
        key = f"{prefix}{name.upper()}"
        if isinstance(value, BaseModel):
            yield from _flatten(key + "__", value)
        elif value is None:
            continue
        elif isinstance(value, SecretStr):
            yield key, value.get_secret_value()
        elif isinstance(value, (list, dict)):
            yield key, json.dumps(value, default=_secret_value)
        elif isinstance(value, bool):
            yield key, "true" if value else "false"
        else:
            yield key, str(value)


def _secret_value(value: object) -> str:
    if isinstance(value, SecretStr):  # e.g. a list of keys
        return value.get_secret_value()
    raise TypeError(f"{type(value).__name__} cannot be passed in the environment")


def child_env(settings: Settings, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    env.update(settings_env(settings))
    env.update(extra or {})
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def worker_command(
    concurrency: int, queues: tuple[str, ...] = ALL_CPU_QUEUES, name: str = "embedded", pool: str = "prefork"
) -> list[str]:
    celery = [sys.executable, "-m", "celery", "-A", "workers.app"]
    return celery + celery_worker_args(",".join(queues), concurrency, pool, f"{name}@%h", heartbeat=False)


def prepare_embedded(home: Path, **overrides: Any) -> tuple[Settings, Any]:
    """Create the data folders, migrate SQLite and start the shared milvus-lite server.

    Returns the settings the children must use and a handle that stops milvus-lite.
    """
    from infra.db import migrate
    from infra.vector_index import start_embedded_milvus

    home = home.resolve()
    settings = Settings.embedded(home, **overrides)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings = with_rekognition_server_key(settings)
    migrate(settings.database.url)
    if "://" in settings.vector_store.uri:
        return settings, lambda: None  # a Milvus server: nothing to start
    uri, stopper = start_embedded_milvus(Path(settings.vector_store.uri))
    settings = settings.model_copy(
        update={"vector_store": settings.vector_store.model_copy(update={"uri": uri})}
    )
    return settings, stopper


def shared_metrics(settings: Settings) -> tuple[Settings, dict[str, str]]:
    """One multi-process metrics folder for the API and the worker, emptied once here, so
    the API's /metrics includes the worker's job metrics and neither empties it again (a
    worker restarted by the supervisor keeps adding to what the last one counted)."""
    folder = settings.data_dir / "metrics"
    empty_metrics_dir(folder)
    metrics = settings.metrics.model_copy(update={"shared_multiprocess_dir": True})
    return settings.model_copy(update={"metrics": metrics}), {MULTIPROCESS_ENV: str(folder)}


def run_embedded(home: Path, host: str, port: int, worker_count: int) -> int:
    from facefleet.admin import ensure_admin_token, ensure_default_project, read_admin_token

    settings, milvus = prepare_embedded(home, public_url=f"http://{host}:{port}")
    token_file = None
    if not settings.api.admin_token.get_secret_value():
        token_file = ensure_admin_token(home.resolve())
        admin = settings.api.model_copy(update={"admin_token": SecretStr(read_admin_token(token_file))})
        settings = settings.model_copy(update={"api": admin})
    settings, metrics_env = shared_metrics(settings)
    supervisor = Supervisor(child_env(settings, metrics_env))
    # A worker that exits (its pool watchdog replacing a stalled pool, the OOM killer) is
    # started again; the API exiting stops the service, as a failed bind should.
    supervisor.start("worker", worker_command(worker_count))
    supervisor.start(
        "API", [sys.executable, "-m", "facefleet.cli", "api", f"--bind={host}:{port}"], restart=False
    )
    created = ensure_default_project(settings)
    print(f"\nFaceFleet is running at http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    print(f"  console:    http://{host}:{port}/console  (sign in with the project id and API key below)")
    if created is not None:
        print(f"  project_id: {created.project_id}")
        print(f"  api_key:    {created.api_key}   (shown once; create more with `facefleet key create`)")
        print(f"  webhook_secret: {created.webhook_secret}   (verifies X-FaceFleet-Signature on callbacks)")
    if token_file is not None:
        print(f"  admin token: in {token_file}   (admin API /v1/admin/*, /metrics; `facefleet key --help`)")
    print("Press Ctrl-C to stop.\n", flush=True)

    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    exit_code = 0
    try:
        while not stopping:
            failed = supervisor.check()
            if failed is not None:
                exit_code = failed
                break
            time.sleep(0.5)
    finally:
        supervisor.stop()
        milvus()
    return exit_code
