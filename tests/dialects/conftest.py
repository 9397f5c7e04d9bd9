"""One real FaceFleet stack (embedded flavour: SQLite, local objects, milvus-lite, a real
worker process) shared by the dialect tests, with one app whose dialects are all enabled.

Projects: seed 000 and 002 are bound to their own projects (their documents have no auth);
seed 001 apps 7 and 8 are the projects ``d001-app-7`` / ``d001-app-8``; seed 003 tenants
are two projects whose API keys go in ``X-GW-Authorization``.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from infra.settings import DialectSettings, JobSettings, Settings
from tests.support.photos import FACES, identity_photos
from tests.support.stack import Stack, start_stack

# Small photos (250-400 px) keep every job well under a second on a busy CPU; each pair is
# one person (dlib distances 0.13-0.45 within a pair, above 0.78 across pairs).
ROB = "lfw-Rob_Lowe"
HOPKINS = "lfw-Anthony_Hopkins"
OBAMA_SMALL = FACES / "face_recognition-obama" / "obama_small.jpg"
OBAMA_240P = FACES / "face_recognition-obama" / "obama-240p.jpg"
CLAPTON = FACES / "openface-clapton" / "clapton-2.jpg"
TWO_PEOPLE = FACES / "_misc" / "multi_face" / "face_recognition__kit_with_rose.jpg"
NO_FACE = FACES / "_misc" / "no_face" / "mtcnn__no-faces.jpg"
NOT_AN_IMAGE = b"this is text, not a picture"


def photo(identity: str, index: int = 0) -> Path:
    return identity_photos(identity)[index]


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


@dataclass
class Tenant:
    project_id: str
    api_key: str


@dataclass
class DialectService:
    stack: Stack
    settings: Settings
    http: FlaskClient
    url: str  # the app served over real HTTP, for the documents' own `requests` calls
    d000: Tenant
    d002: Tenant
    app7: Tenant
    app8: Tenant
    tenant_a: Tenant
    tenant_b: Tenant


@pytest.fixture(scope="session")
def dialects(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DialectService]:
    from api.app import create_app
    from facefleet.admin import create_project

    home = tmp_path_factory.mktemp("dialects")
    with start_stack(home, workers=1, jobs=JobSettings(sync_wait_seconds=60.0)) as stack:

        def tenant(name: str) -> Tenant:
            created = create_project(stack.settings, name)
            return Tenant(created.project_id, created.api_key)

        d000, d002 = tenant("dialect-000"), tenant("dialect-002")
        app7, app8 = tenant("d001-app-7"), tenant("d001-app-8")
        tenant_a, tenant_b = tenant("dialect-003-a"), tenant("dialect-003-b")
        settings = stack.settings.model_copy(
            update={
                "dialects": DialectSettings(
                    d000_project_id=d000.project_id,
                    d002_project_id=d002.project_id,
                    d002_face_set="d002-faces",
                    d002_token_ttl_seconds=600,
                )
            }
        )
        app = create_app(settings)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        serving = threading.Thread(target=server.serve_forever, name="dialect-http", daemon=True)
        serving.start()
        url = f"http://127.0.0.1:{server.server_port}"
        try:
            yield DialectService(
                stack, settings, app.test_client(), url, d000, d002, app7, app8, tenant_a, tenant_b
            )
        finally:
            server.shutdown()
            serving.join(timeout=10)
        # Nothing of this throwaway stack needs a graceful stop, and a warm worker shutdown
        # costs ~20 s (stack.stop's grace period).
        for worker in list(stack.workers):
            stack.kill_worker(worker)
