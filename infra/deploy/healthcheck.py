#!/usr/bin/env python3
"""Container health checks for the FaceFleet images (no curl in slim images).

    facefleet-healthcheck http http://127.0.0.1:8080/readyz
    facefleet-healthcheck worker cpu        # pings the Celery node cpu@<this hostname>

Exit status 0 means healthy; anything else is printed on stderr for `docker inspect`.
"""

from __future__ import annotations

import argparse
import socket
import sys
import urllib.error
import urllib.request


def check_http(url: str, timeout: float) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status = int(response.status)
    except (urllib.error.URLError, OSError) as exc:
        return f"{url}: {exc}"
    return None if 200 <= status < 300 else f"{url}: HTTP {status}"


def check_worker(node_prefix: str, timeout: float) -> str | None:
    # Imported here so the http check stays stdlib-only and fast.
    from infra.celery_config import make_celery
    from infra.settings import Settings

    # Matches the `--name <prefix>@%h` the compose file gives each worker; Celery expands
    # %h with socket.gethostname(), the container id.
    node = f"{node_prefix}@{socket.gethostname()}"
    app = make_celery(Settings())
    try:
        replies = app.control.ping(destination=[node], timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - any broker failure means unhealthy
        return f"{node}: broker unreachable: {exc}"
    finally:
        app.close()
    if not any(node in reply for reply in replies):
        return f"{node}: no pong within {timeout:.0f}s"
    return None


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
