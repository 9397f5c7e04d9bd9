"""A real Milvus standalone server for tests and benchmarks, from the ``milvus`` PyPI package.

The package ships the Milvus 2.3 binary with an embedded etcd and local storage. Left to
itself it picks ports from fixed defaults (19530 for gRPC, 9091 for health, 53100 and so on
for the coordinators) and its embedded etcd's peer port is always 2380: a second server
started while one runs (another test session on the same machine) dies with "bind: address
already in use". So every port here is chosen per server and written into its config, the
etcd ones through an etcd config file. Data and logs go under ``base_dir``.

Pinned ports also make a restart (``RestartableMilvus``) come back where it was: the package
otherwise moves a port that is still in TIME_WAIT to the next free one, and the restarted
components then dial the address their dead predecessors left in etcd.
"""

from __future__ import annotations

import random
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

START_TIMEOUT_SECONDS = 90
# Milvus deregisters its sessions from etcd on SIGTERM; killed instead, its successor
# waits for the stale sessions' leases to run out before it is healthy.
STOP_GRACE_SECONDS = 30
# Ports for a server that restarts come from below Linux's ephemeral range (32768-60999),
# so no client connection can take one while the server is down.
_FIXED_PORT_RANGE = (20000, 32000)


class RestartableMilvus:
    """One Milvus server under ``base_dir`` that can be stopped and started again on the same
    ports and data, as an operator's restart would."""

    def __init__(self, base_dir: Path, patch_config: Callable[[str], str] | None = None) -> None:
        from milvus import MilvusServer, MilvusServerConfig

        self.base_dir = base_dir
        base_dir.mkdir(parents=True, exist_ok=True)
        defaults = MilvusServerConfig()
        port_keys = [key for key in defaults.configurable_items if key.endswith("_port")]
        ports = _free_ports(len(port_keys) + 2)
        self._ports = dict(zip(port_keys, ports))
        self._etcd_peer_port, webservice_port = ports[-2:]
        etcd_client_port = self._ports["etcd_port"]
        etcd_config = base_dir / "embedEtcd.yaml"
        etcd_config.write_text(
            f"listen-client-urls: http://127.0.0.1:{etcd_client_port}\n"
            f"advertise-client-urls: http://127.0.0.1:{etcd_client_port}\n"
            f"listen-peer-urls: http://127.0.0.1:{self._etcd_peer_port}\n"
            f"initial-advertise-peer-urls: http://127.0.0.1:{self._etcd_peer_port}\n"
            f"initial-cluster: default=http://127.0.0.1:{self._etcd_peer_port}\n"
        )
        template = base_dir / "milvus.yaml.template"
        default_template = Path(defaults.template_file).read_text()
        server_template = default_template.replace("etcd:\n", f"etcd:\n  config:\n    path: {etcd_config}\n", 1)
        template.write_text(patch_config(server_template) if patch_config else server_template)
        config = MilvusServerConfig(template=str(template), data_dir=str(base_dir), **self._ports)
        config.glog_conf_file = defaults.glog_conf_file  # only set when no template is given
        self._server: Any = MilvusServer(config, wait_for_started=False)
        self._server.webservice_port = webservice_port

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self._ports['proxy_port']}"

    def start(self, timeout: float = START_TIMEOUT_SECONDS) -> None:
        """Start and wait until healthy; fail with the log tail if it dies or is too slow."""
        self._wait_ports_free()
        started = time.monotonic()
        self._server.start()
        health_url = f"http://127.0.0.1:{self._server.webservice_port}/healthz"
        while True:
            process = self._server.server_proc
            if process.poll() is not None:
                problem = f"Milvus exited with {process.returncode} while starting"
                break
            if _answers_ok(health_url):
                time.sleep(1)  # as the package's own wait: healthz answers just before the proxy serves
                return
            if time.monotonic() - started > timeout:
                problem = f"Milvus was not healthy after {timeout:.0f} s"
                break
            time.sleep(0.2)
        self._server.stop()
        raise RuntimeError(f"{problem}\n{_log_tail(self.base_dir)}")

    def stop(self) -> None:
        process = self._server.server_proc
        if process is not None:
            process.terminate()
            # The package's stop then kills what is still running after the grace period.
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=STOP_GRACE_SECONDS)
        self._server.stop()

    def _wait_ports_free(self, timeout: float = 120.0) -> None:
        """Milvus binds without SO_REUSEADDR, so a port in TIME_WAIT after a stop (up to 60 s
        on Linux) refuses a restart: wait until every one binds again."""
        deadline = time.monotonic() + timeout
        for port in [*self._ports.values(), self._etcd_peer_port]:
            while not _bindable(port):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"port {port} still busy {timeout:.0f} s after Milvus stopped")
                time.sleep(1)


@contextmanager
def milvus_server(base_dir: Path, patch_config: Callable[[str], str] | None = None) -> Iterator[str]:
    """Start a server under ``base_dir`` and yield its URI; fail loudly with its log tail.

    ``patch_config`` gets the text of the package's milvus.yaml template and returns it
    changed (a benchmark's server settings, e.g. larger segments)."""
    server = RestartableMilvus(base_dir, patch_config)
    server.start()
    try:
        yield server.uri
    finally:
        server.stop()


def _free_ports(count: int) -> list[int]:
    low, high = _FIXED_PORT_RANGE
    candidates = random.sample(range(low, high), k=min(high - low, 50 * count))
    ports = [port for port in candidates if _bindable(port)][:count]
    if len(ports) < count:
        raise RuntimeError(f"fewer than {count} free ports in {low}-{high}")
    return ports


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _answers_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return "OK" in response.read().decode("utf-8", errors="replace")
    except (OSError, urllib.error.URLError):
        return False


def _log_tail(base_dir: Path, lines: int = 30) -> str:
    tails = []
    for log in sorted((base_dir / "logs").glob("*.log")):
        text = log.read_text(errors="replace").splitlines()[-lines:]
        tails.append(f"--- {log.name}\n" + "\n".join(text))
    return "\n".join(tails) or "(no logs)"
