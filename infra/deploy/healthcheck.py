#!/usr/bin/env python3
"""Container health checks for the FaceFleet images (no curl in slim images).

    facefleet-healthcheck http http://127.0.0.1:8080/readyz
    facefleet-healthcheck worker cpu        # the Celery node cpu@<this hostname> starts work

A worker is healthy when its pool *starts work*, not merely when its main process answers:
the main process receives jobs and answers pings on its own, so a pool that can no longer
run anything (a wedged or killed child holding a lock) used to pass a ping for good. The
check asks the worker's pool watchdog (workers/pool_watchdog.py) to send a no-op probe
through the pool and waits until something starts there, or sees every slot busy with a
job already started.

Exit status 0 means healthy; anything else is printed on stderr for `docker inspect`.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
import urllib.error
import urllib.request
from typing import Any


def check_http(url: str, timeout: float) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status = int(response.status)
    except (urllib.error.URLError, OSError) as exc:
        return f"{url}: {exc}"
    return None if 200 <= status < 300 else f"{url}: HTTP {status}"


# The control command workers.pool_watchdog registers (infra may not import workers).
PROGRESS_COMMAND = "facefleet_pool_progress"


def check_worker(node_prefix: str, timeout: float, hostname: str | None = None) -> str | None:
    # Imported here so the http check stays stdlib-only and fast.
    from infra.celery_config import make_celery
    from infra.settings import Settings

    # Matches the `--name <prefix>@%h` the compose file gives each worker; Celery expands
    # %h with socket.gethostname(), the container id.
    node = f"{node_prefix}@{hostname or socket.gethostname()}"
    app = make_celery(Settings())
    asked_at = time.monotonic()
    deadline = asked_at + timeout
    problem: str | None = f"{node}: no reply within {timeout:.0f}s"
    probe = True  # once: a reply means the worker has the probe, which stays queued until it starts
    try:
        while True:
            replies = app.control.broadcast(
                PROGRESS_COMMAND,
                arguments={"probe": probe},
                destination=[node],
                reply=True,
                timeout=min(max(0.5, deadline - time.monotonic()), 2.0),
            )
            progress = next((reply[node] for reply in replies if node in reply), None)
            if progress is not None:
                if "error" in progress:
                    return f"{node}: {progress['error']}"
                problem = _judge(node, progress, time.monotonic() - asked_at)
                if problem is None:
                    return None
                probe = False
            if time.monotonic() >= deadline:
                return problem
            time.sleep(0.25)
    except Exception as exc:  # noqa: BLE001 - any broker failure means unhealthy
        return f"{node}: broker unreachable: {exc}"
    finally:
        app.close()


def _judge(node: str, progress: dict[str, Any], waited: float) -> str | None:
    if float(progress["seconds_since_start"]) <= waited:
        return None  # the probe, or a job, started after we asked
    if int(progress["running"]) >= int(progress["slots"]):
        return None  # every slot runs a job that did start: the pool is working
    return (
        f"{node}: the pool started nothing for {float(progress['seconds_since_start']):.0f}s "
        f"({progress['waiting']} waiting, {int(progress['slots']) - int(progress['running'])} of "
        f"{progress['slots']} slots free)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="facefleet-healthcheck")
    parser.add_argument("--timeout", type=float, default=5.0)
    sub = parser.add_subparsers(dest="kind", required=True)
    sub.add_parser("http").add_argument("url")
    sub.add_parser("worker").add_argument("node_prefix")
    args = parser.parse_args(argv)
    if args.kind == "http":
        problem = check_http(args.url, args.timeout)
    else:
        problem = check_worker(args.node_prefix, args.timeout)
    if problem is not None:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
