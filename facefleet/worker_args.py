"""The one Celery worker command line, shared by ``facefleet worker`` and the embedded runner."""

from __future__ import annotations

from core.queues import CPU_QUEUES

ALL_CPU_QUEUES: tuple[str, ...] = tuple(queue.value for queue in CPU_QUEUES)


def celery_worker_args(
    queues: str, concurrency: int, pool: str, hostname: str, heartbeat: bool = True
) -> list[str]:
    """``celery worker`` arguments; gossip and mingle are off, since workers never ask each
    other anything, and they would cost start-up time and broker traffic."""
    args = [
        "worker",
        f"--queues={queues}",
        f"--concurrency={concurrency}",
        f"--pool={pool}",
        f"--hostname={hostname}",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
    ]
    if not heartbeat:
        args.append("--without-heartbeat")
    return args
