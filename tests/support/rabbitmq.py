"""A private RabbitMQ node owned by one test, so the test may stop and start it at will.

The shared node on 127.0.0.1:5672 serves other tests and people and is never touched: the
private one has its own node name, AMQP and distribution ports, and every file it writes
(database, logs, feature flags, plugins) under a temporary folder. The installed
``/etc/rabbitmq`` files would bind it to 5672 as well, so it gets an empty config and env
file of its own.

Run as root, the ``rabbitmq-server``/``rabbitmqctl`` wrappers drop to the ``rabbitmq``
user (HOME /var/lib/rabbitmq), so the node and ``rabbitmqctl`` share that user's Erlang
cookie; the folder is world-writable because the node writes it as that user.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import free_port

START_TIMEOUT_SECONDS = 90
CTL_TIMEOUT_SECONDS = 60


def rabbitmq_installed() -> bool:
    return shutil.which("rabbitmq-server") is not None and shutil.which("rabbitmqctl") is not None


@dataclass
class RabbitNode:
    node_name: str
    port: int
    base_dir: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        # The guest user may only log in from localhost, which is where everything runs.
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def ctl(self, *args: str, timeout: float = CTL_TIMEOUT_SECONDS) -> str:
        completed = subprocess.run(
            ["rabbitmqctl", "-q", "-n", self.node_name, *args],
            check=False,  # the error is raised below with rabbitmqctl's own message
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {completed.stderr or completed.stdout}")
        return completed.stdout

    def stop_app(self) -> None:
        """Stop the broker application (every AMQP connection closes, the port refuses) and
        return once the port is closed; the Erlang node keeps running for ``start_app``."""
        self.ctl("stop_app")
        _wait_port(self.port, open_=False, timeout=30)

    def start_app(self) -> None:
        self.ctl("start_app")
        _wait_port(self.port, open_=True, timeout=60)

    def queues(self) -> dict[str, tuple[bool, int]]:
        """Each queue's name -> (durable, messages ready + unacked)."""
        listed: dict[str, tuple[bool, int]] = {}
        for line in self.ctl("list_queues", "name", "durable", "messages", "--no-table-headers").splitlines():
            fields = line.split()
            if len(fields) == 3:
                listed[fields[0]] = (fields[1] == "true", int(fields[2]))
        return listed

    def log_tail(self, characters: int = 3000) -> str:
        logs = sorted((self.base_dir / "log").glob("*.log"))
        return "\n".join(path.read_text(errors="replace")[-characters:] for path in logs)


@contextmanager
def private_rabbitmq() -> Iterator[RabbitNode]:
    """Start a private node, yield it once its AMQP port accepts, stop it in any case."""
    base_dir = Path(tempfile.mkdtemp(prefix="fftest-rabbit-"))
    base_dir.chmod(0o777)
    (base_dir / "rabbitmq.conf").write_text("")
    (base_dir / "rabbitmq-env.conf").write_text("")
    (base_dir / "plugins").write_text("[].\n")
    for path in base_dir.iterdir():
        path.chmod(0o666)
    node_name = f"fftest-{uuid.uuid4().hex[:8]}@localhost"
    port = free_port()
    environment = {
        "RABBITMQ_NODENAME": node_name,
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(free_port()),
        "RABBITMQ_CONFIG_FILE": str(base_dir / "rabbitmq.conf"),
        "RABBITMQ_CONF_ENV_FILE": str(base_dir / "rabbitmq-env.conf"),
        "RABBITMQ_MNESIA_BASE": str(base_dir / "mnesia"),
        "RABBITMQ_LOG_BASE": str(base_dir / "log"),
        "RABBITMQ_FEATURE_FLAGS_FILE": str(base_dir / "feature_flags"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base_dir / "plugins"),
        "RABBITMQ_PLUGINS_EXPAND_DIR": str(base_dir / "plugins-expand"),
    }
    with open(base_dir / "server.out", "wb") as output:
        # The child keeps its own copy of the descriptor; ours may close at once.
        process = subprocess.Popen(
            ["rabbitmq-server"],
            env={**os.environ, **environment},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    node = RabbitNode(node_name=node_name, port=port, base_dir=base_dir, process=process)
    try:
        started = time.monotonic()
        while not _port_open(port):
            if process.poll() is not None or time.monotonic() - started > START_TIMEOUT_SECONDS:
                raise RuntimeError(
                    f"private RabbitMQ did not start (exit {process.poll()}):\n"
                    f"{(base_dir / 'server.out').read_text(errors='replace')[-3000:]}\n{node.log_tail()}"
                )
            time.sleep(0.3)
        yield node
    finally:
        _stop(node)
        shutil.rmtree(base_dir, ignore_errors=True)


def _stop(node: RabbitNode) -> None:
    with suppress(Exception):
        node.ctl("stop", timeout=60)
    try:
        node.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        # The node ignored `stop`: end its process group (ours alone, started with a new session).
        with suppress(ProcessLookupError):
            os.killpg(node.process.pid, signal.SIGKILL)
        node.process.wait(timeout=10)


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _wait_port(port: int, open_: bool, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while _port_open(port) != open_:
        if time.monotonic() > deadline:
            raise RuntimeError(f"port {port} still {'closed' if open_ else 'open'} after {timeout} s")
        time.sleep(0.1)
