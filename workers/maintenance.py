"""Housekeeping that makes delivery at-least-once on every transport and keeps stores tidy.

- Stale jobs: a job left `running` whose heartbeat stopped (its worker was killed), or
  left `pending` long after it was sent (its message was lost), is claimed atomically in
  SQL by exactly one worker and sent again. The SQL transport of the embedded mode loses
  an in-flight message on kill -9; this is what recovers it.
- Expired jobs are purged.
- Reconciliation removes what a crash between the store writes can leave behind:
  vectors without a face row, and images/crops no face row refers to; and probe images
  past their retention (or left behind by a crash before their job could delete them).
  It runs in a fresh interpreter (``python -m workers.maintenance reconcile``), never in
  the worker's main process: see ``reconcile_in_fresh_process``.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.jobs import JobKind
from core.messages import is_amqp_url
from core.probes import NAMED_PROBE_PREFIX, PROBE_PREFIX
from infra import batch_manifest
from infra.errors import ObjectNotFound, TransientInfraError
from workers.runtime import Runtime

log = logging.getLogger(__name__)

OBJECT_PREFIXES = ("images/", "crops/")
# A pass over a million faces takes minutes; one that runs for an hour is stuck, and the
# next round starts a fresh one.
RECONCILE_TIMEOUT_SECONDS = 3600.0
# Leftovers younger than this may belong to work in flight.
DEFAULT_GRACE = timedelta(minutes=10)
# The arguments after the interpreter that start one pass (tests find the process by them).
RECONCILE_ARGUMENTS = ("-m", "workers.maintenance", "reconcile")


def requeue_stale_jobs(runtime: Runtime) -> list[str]:
    cutoff = datetime.now(UTC) - timedelta(seconds=runtime.settings.jobs.stale_after_seconds)
    # RabbitMQ keeps a confirmed message until it is acked, so a job waiting in a long queue
    # is not lost and must not be sent twice; the embedded SQL transport can lose one.
    durable_broker = is_amqp_url(runtime.settings.broker.url)
    requeued = []
    for job in runtime.jobs.claim_stale(cutoff, include_pending=not durable_broker):
        try:
            runtime.dispatch(JobKind(job.kind), job.id, job.payload or {})
        except TransientInfraError:  # the broker is down: the next sweep tries again
            log.warning("could not re-send stale job %s; it stays stale for the next sweep", job.id)
            runtime.jobs.release_claim(job.id, stale_since=cutoff)
            continue
        requeued.append(job.id)
    if requeued:
        log.warning("re-enqueued %d stale jobs: %s", len(requeued), ", ".join(requeued[:10]))
    return requeued


@dataclass
class ReconcileReport:
    vectors_removed: int = 0
    objects_removed: int = 0


def reconcile(runtime: Runtime, grace: timedelta = DEFAULT_GRACE) -> ReconcileReport:
    """Remove leftovers older than ``grace``: younger ones may belong to work in flight."""
    report = ReconcileReport()
    cutoff = datetime.now(UTC) - grace
    for model_id in runtime.index.collections():
        # Only vectors older than the grace: a younger one may belong to an enrollment whose
        # row is about to commit.
        orphans = [
            face_id
            for batch in runtime.index.iter_face_ids(model_id, written_before=cutoff)
            for face_id in runtime.faces.missing_face_ids(batch)
        ]
        if orphans:
            runtime.index.delete(model_id, orphans)
            report.vectors_removed += len(orphans)
    listed_by_batches = _images_of_running_batches(runtime)
    retention = timedelta(seconds=runtime.settings.jobs.probe_retention_seconds)
    probe_cutoff = datetime.now(UTC) - max(grace, retention)
    # A named probe stays while the token naming it is valid (seed 002's face_token).
    token_life = timedelta(seconds=runtime.settings.dialects.d002_token_ttl_seconds)
    named_probe_cutoff = datetime.now(UTC) - max(grace, retention, token_life)
    for prefix in (*OBJECT_PREFIXES, PROBE_PREFIX):
        candidates = [
            key
            for key, modified in runtime.store.list_with_times(prefix)
            if modified < _oldest_kept(key, cutoff, probe_cutoff, named_probe_cutoff)
        ]
        in_use = (
            runtime.faces.referenced_keys(candidates)
            | runtime.jobs.referenced_keys(candidates)
            | listed_by_batches
        )
        for key in candidates:
            if key not in in_use:
                runtime.store.delete(key)
                report.objects_removed += 1
    return report


def _oldest_kept(
    key: str, cutoff: datetime, probe_cutoff: datetime, named_probe_cutoff: datetime
) -> datetime:
    if key.startswith(NAMED_PROBE_PREFIX):
        return named_probe_cutoff
    return probe_cutoff if key.startswith(PROBE_PREFIX) else cutoff


def _images_of_running_batches(runtime: Runtime) -> set[str]:
    keys: set[str] = set()
    for manifest_key in runtime.jobs.active_manifest_keys():
        try:
            keys |= batch_manifest.keys_in_use(runtime.store, manifest_key)
        except ObjectNotFound:
            continue
    return keys


class Housekeeper(threading.Thread):
    """Runs the housekeeping periodically inside a worker's main process."""

    def __init__(self, runtime: Runtime, interval_seconds: float = 30.0, reconcile_every: int = 20) -> None:
        super().__init__(name="facefleet-housekeeper", daemon=True)
        self._runtime = runtime
        self._interval = interval_seconds
        self._reconcile_every = reconcile_every
        self._stopped = threading.Event()

    def run(self) -> None:
        rounds = 0
        while not self._stopped.wait(self._interval):
            rounds += 1
            try:
                requeue_stale_jobs(self._runtime)
                self._runtime.jobs.purge_expired(datetime.now(UTC))
                if rounds % self._reconcile_every == 0:
                    reconcile_in_fresh_process()
            except Exception:
                log.exception("housekeeping round failed; will try again")

    def stop(self) -> None:
        self._stopped.set()


def reconcile_in_fresh_process(
    timeout_seconds: float = RECONCILE_TIMEOUT_SECONDS,
    grace: timedelta | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    """Run one reconcile pass in a new interpreter (fork and exec) and wait for it.

    The housekeeper lives in the worker's main process, which forks the pool's replacement
    children (after a crash, an OOM kill, a time limit). Reconciliation talks to Milvus over
    gRPC, and a child forked while a gRPC call is in flight hangs on its own first call
    (grpc/grpc#13873; measured with grpcio 1.85: 20 of 40 children forked beside a thread
    making Milvus calls never answered). So the main process never opens a Milvus client.
    The pass reads its settings from ``env`` (this process's environment by default) and
    logs to this process's stderr. Returns its exit status."""
    command = [sys.executable, *RECONCILE_ARGUMENTS]
    if grace is not None:
        command += ["--grace-seconds", str(grace.total_seconds())]
    started = time.monotonic()
    try:
        finished = subprocess.run(command, timeout=timeout_seconds, check=False, env=env)
    except subprocess.TimeoutExpired:  # run() has killed it
        log.error("reconcile ran past %.0f s and was stopped; the next round starts again", timeout_seconds)
        return -1
    if finished.returncode != 0:
        log.error("reconcile exited with status %d after %.1f s", finished.returncode, time.monotonic() - started)
    return finished.returncode


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m workers.maintenance reconcile``: one pass with the environment's settings."""
    parser = argparse.ArgumentParser(prog="python -m workers.maintenance")
    parser.add_argument("command", choices=["reconcile"])
    parser.add_argument(
        "--grace-seconds", type=float, default=DEFAULT_GRACE.total_seconds(), help="keep leftovers younger than this"
    )
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s: %(levelname)s/reconcile] %(message)s")
    from infra.settings import Settings

    started = time.monotonic()
    report = reconcile(Runtime(Settings()), grace=timedelta(seconds=arguments.grace_seconds))
    log.info(
        "reconcile pass: %d vector(s) and %d object(s) removed in %.1f s",
        report.vectors_removed,
        report.objects_removed,
        time.monotonic() - started,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
