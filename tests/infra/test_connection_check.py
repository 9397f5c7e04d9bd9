"""Pooled PostgreSQL connections are checked before use unless handed back a moment ago
(infra/db/connection_check.py): the hot path pays no ping, and a connection the database
dropped while idle is replaced before anyone uses it. Through a TCP proxy the test owns,
against the real PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from infra.db.database import Database, create_database_engine
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.integration

BYPASS_SECONDS = 0.3


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    proxy = TcpProxy("127.0.0.1", 5432)
    yield proxy
    proxy.close()


def proxied(postgres_url: str, proxy: TcpProxy, bypass_seconds: float) -> Database:
    url = postgres_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    return Database(url, pool_size=2, pre_ping_bypass_seconds=bypass_seconds)


def count_pings(database: Database) -> list[int]:
    calls = [0]
    dialect: Any = database.engine.dialect
    ping = dialect.do_ping

    def counted(connection: Any) -> bool:
        calls[0] += 1
        return bool(ping(connection))

    dialect.do_ping = counted
    return calls


def select_one(database: Database) -> int:
    with database.session() as session:
        return int(session.execute(text("SELECT 1")).scalar_one())


def test_a_connection_back_a_moment_ago_is_used_without_a_ping(postgres_url: str, proxy: TcpProxy) -> None:
    database = proxied(postgres_url, proxy, BYPASS_SECONDS)
    pings = count_pings(database)

    for _ in range(5):
        assert select_one(database) == 1
    assert pings == [0]  # the first connection is new, the next four back within the window

    time.sleep(BYPASS_SECONDS * 1.5)
    assert select_one(database) == 1
    assert pings == [1]  # idle past the window: checked first


def test_a_connection_dropped_while_idle_is_replaced_before_use(postgres_url: str, proxy: TcpProxy) -> None:
    database = proxied(postgres_url, proxy, BYPASS_SECONDS)
    assert select_one(database) == 1

    proxy.cut()  # PostgreSQL's side of every pooled connection is gone
    proxy.restore()
    time.sleep(BYPASS_SECONDS * 1.5)

    assert select_one(database) == 1  # no error reaches the caller


def test_without_a_window_every_checkout_is_checked(postgres_url: str, proxy: TcpProxy) -> None:
    database = proxied(postgres_url, proxy, 0.0)
    assert select_one(database) == 1

    proxy.cut()
    proxy.restore()

    assert select_one(database) == 1  # SQLAlchemy's own pre-ping replaced it at once


@pytest.mark.parametrize("url", ["sqlite:///:memory:", "sqlite:///{tmp}/facefleet.db"])
def test_sqlite_engines_take_the_check_whatever_pool_sqlalchemy_picks(url: str, tmp_path: Path) -> None:
    engine = create_database_engine(url.format(tmp=tmp_path), pre_ping_bypass_seconds=BYPASS_SECONDS)
    for _ in range(2):
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT 1").scalar_one() == 1
