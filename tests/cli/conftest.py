"""A running embedded FaceFleet served over real HTTP, for the CLI and the client."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from infra.settings import JobSettings
from tests.support.stack import start_stack


@dataclass(frozen=True)
class Service:
    url: str
    project_id: str
    api_key: str

    @property
    def env(self) -> dict[str, str]:
        return {
            "FACEFLEET_URL": self.url,
            "FACEFLEET_PROJECT": self.project_id,
            "FACEFLEET_API_KEY": self.api_key,
        }


@pytest.fixture(scope="package")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    from api.app import create_app
    from facefleet.admin import create_project

    home: Path = tmp_path_factory.mktemp("cli")
    with start_stack(home, workers=1, jobs=JobSettings(batch_chunk_size=4, sync_wait_seconds=60.0)) as stack:
        created = create_project(stack.settings, "cli")
        server = make_server("127.0.0.1", 0, create_app(stack.settings), threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield Service(f"http://127.0.0.1:{server.server_port}", created.project_id, created.api_key)
        finally:
            server.shutdown()
