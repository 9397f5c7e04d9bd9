"""Probe images are deleted once their job's result is stored.

A probe lives under ``probes/`` (``api.images``), a key no face and no other request
shares, so deleting it can never remove an enrolled image. A named probe (a token may
name it after its job, ``core.probes``) is left to reconciliation. The check against other
pending or running jobs still runs: a retried request with the same Idempotency-Key maps
to the same probe key. With ``jobs.probe_retention_seconds`` above 0 nothing is deleted
here; reconciliation (``workers.maintenance``) removes probes older than the retention,
and any a crash left behind. A probe that came inline in the task message was never
written (``api.probes``): there is nothing to delete, so its job spends no SQL read and no
store round trip on it.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from typing import Any

from core.probes import released_probe_keys
from workers.runtime import Runtime

log = logging.getLogger(__name__)


def release_probes(runtime: Runtime, payload: Mapping[str, Any], carried: Collection[str] = ()) -> int:
    """Delete the job's probes now that its outcome is stored, except those its message
    ``carried`` inline; returns how many went."""
    if runtime.settings.jobs.probe_retention_seconds > 0:
        return 0
    keys = released_probe_keys(payload) - set(carried)
    if not keys:
        return 0
    in_use = runtime.jobs.referenced_keys(keys)
    removed = 0
    for key in keys - in_use:
        try:
            runtime.store.delete(key)
            removed += 1
        except Exception:  # noqa: BLE001  # the outcome is stored; reconciliation removes it later
            log.warning("could not delete probe %s; reconciliation will", key)
    return removed
