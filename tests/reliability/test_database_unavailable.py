"""Fault 5: PostgreSQL becomes unreachable for a moment (issue 8).

A TCP proxy we own sits between the app (API and worker) and the shared PostgreSQL; cutting
it drops every pooled connection and refuses new ones. While cut, requests answer a clear
503 quickly; once restored, the same API and worker processes serve again: the pools
recover without a restart.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from infra.settings import DatabaseSettings
from tests.support.client import project_client
from tests.support.photos import identity_photos, single_face_identities
from tests.support.stack import FAULT_JOBS, start_stack
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.integration, pytest.mark.model]


def test_connection_pools_recover_after_postgres_is_briefly_unreachable(
    tmp_path: Path, postgres_url: str
) -> None:
    proxy = TcpProxy("127.0.0.1", 5432)
    proxied_url = postgres_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    photos = identity_photos(single_face_identities()[0])[:3]
    try:
        with start_stack(
            tmp_path, workers=1, jobs=FAULT_JOBS, database=DatabaseSettings(url=proxied_url)
        ) as stack:
            client = project_client(stack.settings)
            client.create_face_set("pg")
            assert client.add_face("pg", photos[0]).status_code == 200

            proxy.cut()
            started = time.monotonic()
            response = client.call("GET", "/face-sets/pg")
            refused_after = time.monotonic() - started
            text = response.get_data(as_text=True)
            assert response.status_code == 503, (response.status_code, text)
            assert response.get_json()["error_code"] == "FRS.0602", text
            assert "Traceback" not in text and "psycopg" not in text
            assert refused_after < 15, refused_after

            proxy.restore()
            restored = time.monotonic()
            while client.call("GET", "/face-sets/pg").status_code != 200:
                assert time.monotonic() - restored < 30, "the API's pool did not recover"
                time.sleep(0.2)
            api_recovered = time.monotonic() - restored
            # The worker's pool too: an enrollment runs through it end to end.
            response = client.add_face("pg", photos[1])
            assert response.status_code == 200, response.get_json()
            worker_recovered = time.monotonic() - restored
            assert len(client.face_ids("pg")) == 2
            print(
                f"\nrefused in {refused_after:.2f} s; API recovered {api_recovered:.2f} s and an enrollment "
                f"through the worker {worker_recovered:.2f} s after the restore"
            )
    finally:
        proxy.close()
