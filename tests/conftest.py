"""Session-scoped fixtures for the real services every integration test uses.

Each fixture starts (or connects to) a real service and FAILS the test when it cannot:
a missing service never turns into a silent skip.

- ``postgres_url``: a fresh database on 127.0.0.1:5432, dropped at the end of the session.
- ``sqlite_url``: a SQLite file in the test's tmp dir.
- ``s3_server``: moto's ThreadedMotoServer on a free port + an ``S3ObjectStore`` on it.
- ``milvus_server_uri``: a real Milvus standalone from the ``milvus`` PyPI package.
- ``milvus_lite_uri``: milvus-lite started once through ``start_embedded_milvus``.
- ``rabbitmq_url``: the local RabbitMQ in a fresh vhost, deleted at the end.
- ``faces_dir``: the shared real-photo set ``../shared/data/faces`` (read only, never copied).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

FACES_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "faces"
POSTGRES_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
RABBITMQ_HOST = "127.0.0.1:5672"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    import psycopg

    name = f"facefleet_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.fail(f"PostgreSQL must run on 127.0.0.1:5432 (user postgres, db test): {error}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'facefleet.db'}"


@dataclass(frozen=True)
class S3Server:
    endpoint: str  # host:port, as the minio SDK wants it
    access_key: str
    secret_key: str
    bucket: str

    def settings(self) -> object:
        """The object-store settings that point a FaceFleet stack at this server."""
        from infra.settings import ObjectStoreKind, ObjectStoreSettings

        return ObjectStoreSettings(
            kind=ObjectStoreKind.S3,
            endpoint=self.endpoint,
            access_key=self.access_key,
            secret_key=self.secret_key,
            bucket=self.bucket,
        )

    def store(self, bucket: str | None = None) -> object:
        from infra.object_store import S3ObjectStore

        return S3ObjectStore(self.endpoint, self.access_key, self.secret_key, bucket or self.bucket)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield S3Server(f"127.0.0.1:{port}", "testing", "testing-secret", f"facefleet-{uuid.uuid4().hex[:8]}")
    finally:
        server.stop()


@pytest.fixture(scope="session")
def milvus_server_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Milvus standalone (the ``milvus`` package's binary), on ports of its own so
    that it runs beside other servers on the machine (tests/support/milvus.py)."""
    from tests.support.milvus import milvus_server

    try:
        server = milvus_server(tmp_path_factory.mktemp("milvus-server"))
        uri = server.__enter__()
    except Exception as error:  # noqa: BLE001 - any start failure fails the tests loudly
        pytest.fail(f"the Milvus standalone server from the `milvus` package did not start: {error}")
    try:
        yield uri
    finally:
        server.__exit__(None, None, None)


@pytest.fixture(scope="session")
def milvus_lite_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from infra.vector_index import start_embedded_milvus

    uri, stop = start_embedded_milvus(tmp_path_factory.mktemp("milvus-lite") / "vectors.db")
    try:
        yield uri
    finally:
        stop()


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def rabbitmq_url() -> Iterator[str]:
    import kombu

    if shutil.which("rabbitmqctl") is None:
        pytest.fail("rabbitmqctl is required to create the test vhost (RabbitMQ must run locally)")
    vhost = f"facefleet-test-{uuid.uuid4().hex[:8]}"
    _rabbitmqctl("add_vhost", vhost)
    try:
        _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        url = f"amqp://guest:guest@{RABBITMQ_HOST}/{vhost}"
        with kombu.Connection(url, connect_timeout=5) as connection:
            connection.ensure_connection(max_retries=1)  # fail loudly if unreachable
        yield url
    finally:
        _rabbitmqctl("delete_vhost", vhost)


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    """``../shared/data/faces`` beside the repository; fails loudly when it is missing."""
    folder = FACES_DIR.resolve()
    if not (folder / "pairs.csv").is_file():
        pytest.fail(f"the shared face photos must be at {folder} (see its MANIFEST.md)")
    return folder
