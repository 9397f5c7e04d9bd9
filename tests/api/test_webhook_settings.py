"""A project's webhook settings over the API, and a signed callback received on
127.0.0.1 in embedded mode (no extra configuration) and verified with the snippet that
docs/EVENTS.md gives receivers."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import error_of
from tests.api.photos import OBAMA_SMALL
from tests.support.client import ProjectClient

pytestmark = [pytest.mark.integration, pytest.mark.model]

EVENTS_DOC = Path(__file__).resolve().parents[2] / "docs" / "EVENTS.md"


def documented_verify() -> Any:
    """The receiver's ``verify`` exactly as docs/EVENTS.md prints it."""
    text = EVENTS_DOC.read_text()
    block = re.search(r"\*\*Verifying\*\*.*?```python\n(.*?)```", text, re.S)
    assert block is not None, "docs/EVENTS.md lost its verification snippet"
    namespace: dict[str, Any] = {}
    exec(block.group(1), namespace)  # noqa: S102  # the documentation's own code, under test
    return namespace["verify"]


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    calls: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            calls.append({"body": body, "signature": self.headers.get("X-FaceFleet-Signature", "")})
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", calls
    finally:
        server.shutdown()


def test_a_default_callback_on_the_loopback_is_signed_with_the_rotated_secret(
    client: ProjectClient, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    url, calls = receiver
    settings = client.ok("PUT", "/webhook", json={"callback_url": url})
    assert settings["callback_url"] == url and settings["signature_header"] == "X-FaceFleet-Signature"
    assert client.ok("GET", "/webhook")["callback_url"] == url
    old_secret = client.ok("POST", "/webhook/secret")["webhook_secret"]
    secret = client.ok("POST", "/webhook/secret")["webhook_secret"]
    assert secret != old_secret and "webhook_secret" not in client.ok("GET", "/webhook")

    try:
        accepted = client.call(
            "POST", "/face-detect", json={"image_base64": _b64(OBAMA_SMALL)}, headers={"Prefer": "respond-async"}
        )
        assert accepted.status_code == 202, accepted.get_json()
        job_id = accepted.get_json()["job_id"]
        deadline = time.monotonic() + 60
        while not calls and time.monotonic() < deadline:
            time.sleep(0.1)
        assert calls, f"no callback arrived: {client.job(job_id)}"
        [call] = calls
        verify = documented_verify()
        assert verify(secret, call["signature"], call["body"])
        assert not verify(old_secret, call["signature"], call["body"]), "the rotated-out secret no longer verifies"
        event = json.loads(call["body"])
        assert event["job_id"] == job_id and event["state"] == "succeeded"
        # A synchronous call has its answer already: the project default does not call it back.
        assert client.call("POST", "/face-detect", json={"image_base64": _b64(OBAMA_SMALL)}).status_code == 200
        time.sleep(1.0)
        assert len(calls) == 1
    finally:
        client.ok("PUT", "/webhook", json={"callback_url": None})


def test_a_refused_default_callback_is_not_stored(client: ProjectClient) -> None:
    error_of(client.call("PUT", "/webhook", json={"callback_url": "http://169.254.169.254/latest"}), 400, "FRS.0132")
    error_of(client.call("PUT", "/webhook", json={"callback_url": "ftp://example.com/x"}), 400, "FRS.0132")
    error_of(client.call("PUT", "/webhook", json={}), 400, "FRS.0100")
    assert client.ok("GET", "/webhook")["callback_url"] is None


def _b64(path: Path) -> str:
    import base64

    return base64.b64encode(path.read_bytes()).decode()
