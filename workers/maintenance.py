"""Housekeeping that makes delivery at-least-once on every transport and keeps stores tidy.

- Stale jobs: a job left `running` whose heartbeat stopped (its worker was killed), or
  left `pending` long after it was sent (its message was lost), is claimed atomically in
  SQL by exactly one worker and sent again. The SQL transport of the embedded mode loses
  an in-flight message on kill -9; this is what recovers it.
- Expired jobs are purged.
- Reconciliation removes what a crash between the store writes can leave behind:
  vectors without a face row, and images/crops no face row refers to; and probe images
  past their retention (or left behind by a crash before their job could delete them).
"""

from __future__ import annotations

import logging
import threading
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


def reconcile(runtime: Runtime, grace: timedelta = timedelta(minutes=10)) -> ReconcileReport:
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
    if report.vectors_removed or report.objects_removed:
        log.info("reconciled: %s", report)
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
                    reconcile(self._runtime)
            except Exception:
                log.exception("housekeeping round failed; will try again")

    def stop(self) -> None:
        self._stopped.set()
