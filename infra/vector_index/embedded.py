"""milvus-lite as one shared server process, so the API and several workers can use it.

milvus-lite takes an exclusive lock on its database file: when ``MilvusClient("x.db")``
is opened by a second process, that process fails. Starting milvus-lite's server once
(its own ``milvus_lite.server.Server``) and handing the resulting ``unix:`` socket URI
to every worker process lets them all talk to the one server over gRPC.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

STARTUP_TIMEOUT_SECONDS = 30.0


def start_embedded_milvus(path: Path | str) -> tuple[str, Callable[[], None]]:
    """Start milvus-lite on ``path`` and return its URI and a function that stops it.

    The server exits by itself when this process dies (it watches its lock file), so a
    killed parent never leaves it running.
    """
    from milvus_lite.server import Server
    from pymilvus import MilvusClient

    db_file = Path(path).resolve()
    db_file.parent.mkdir(parents=True, exist_ok=True)
    server = Server(str(db_file))
    if not server.init() or not server.start():
        raise RuntimeError(f"milvus-lite did not start on {db_file} (is another process using it?)")
    uri = str(server.uds_path)
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while True:
        try:
            client = MilvusClient(uri=uri, timeout=2.0)
            client.list_collections()
            client.close()
            break
        except Exception:  # noqa: BLE001 - any failure means "not up yet" until the deadline
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"milvus-lite on {db_file} did not answer within {STARTUP_TIMEOUT_SECONDS} s")
            time.sleep(0.1)
    return uri, server.stop
