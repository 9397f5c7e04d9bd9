"""A real Milvus standalone server for tests and benchmarks, from the ``milvus`` PyPI package.

The package ships the Milvus 2.3 binary with an embedded etcd and local storage. It picks
free ports itself (starting at 19530 for gRPC and 9091 for health), except the embedded
etcd's peer port, which is fixed at 2380: a second server started while one runs (another
test session on the same machine) dies with "bind: address already in use". So the
etcd ports here come from an etcd config file written per server. Data and logs go under
``base_dir``, which is removed again when the server stops.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

START_TIMEOUT_SECONDS = 90


@contextmanager
def milvus_server(base_dir: Path, patch_config: Callable[[str], str] | None = None) -> Iterator[str]:
    """Start a server under ``base_dir`` and yield its URI; fail loudly with its log tail.

    ``patch_config`` gets the text of the package's milvus.yaml template and returns it
    changed (a benchmark's server settings, e.g. larger segments)."""
    from milvus import MilvusServer, MilvusServerConfig

    base_dir.mkdir(parents=True, exist_ok=True)
    client_port, peer_port = _free_port(), _free_port()
    etcd_config = base_dir / "embedEtcd.yaml"
    etcd_config.write_text(
        f"listen-client-urls: http://127.0.0.1:{client_port}\n"
        f"advertise-client-urls: http://127.0.0.1:{client_port}\n"
        f"listen-peer-urls: http://127.0.0.1:{peer_port}\n"
        f"initial-advertise-peer-urls: http://127.0.0.1:{peer_port}\n"
        f"initial-cluster: default=http://127.0.0.1:{peer_port}\n"
    )
    template = base_dir / "milvus.yaml.template"
    defaults = MilvusServerConfig()
    default_template = Path(defaults.template_file).read_text()
    server_template = default_template.replace("etcd:\n", f"etcd:\n  config:\n    path: {etcd_config}\n", 1)
    template.write_text(patch_config(server_template) if patch_config else server_template)
    config = MilvusServerConfig(template=str(template), data_dir=str(base_dir), etcd_port=client_port)
    config.glog_conf_file = defaults.glog_conf_file  # only set when no template is given
    server = MilvusServer(config, wait_for_started=False)
    started = time.monotonic()
    server.start()
    try:
        try:
            server.wait_started(timeout=START_TIMEOUT_SECONDS * 1000)
        except Exception as error:
            raise RuntimeError(
                f"Milvus did not start in {time.monotonic() - started:.0f} s: {error}\n{_log_tail(base_dir)}"
            ) from error
        yield f"http://127.0.0.1:{server.listen_port}"
    finally:
        server.stop()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _log_tail(base_dir: Path, lines: int = 30) -> str:
    tails = []
    for log in sorted((base_dir / "logs").glob("*.log")):
        text = log.read_text(errors="replace").splitlines()[-lines:]
        tails.append(f"--- {log.name}\n" + "\n".join(text))
    return "\n".join(tails) or "(no logs)"
