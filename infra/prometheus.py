"""prometheus_client's multi-process mode, as the API, the workers and the commands that
start them share it: one folder of per-process count files, named by ``MULTIPROCESS_ENV``,
which an exposition sums."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_registry() -> CollectorRegistry | None:
    """A registry that sums every process's files in multi-process mode; None outside it."""
    if not os.environ.get(MULTIPROCESS_ENV):
        return None
    # Imported here, not above: a process that starts others sets MULTIPROCESS_ENV before
    # prometheus_client is imported (its value class is chosen at import), and imports this.
    from prometheus_client import CollectorRegistry, multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry
