"""Webhook delivery to real HTTP receivers on 127.0.0.1, and SSRF checks of callback URLs."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from infra.events import JobEvent, JobState
from infra.settings import Settings, WebhookSettings
from infra.webhooks import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    CallbackUrlRejected,
    DeliveryReport,
    InvalidSignature,
    attempt_webhook,
    new_webhook_secret,
    signature_header,
    validate_callback_url,
    verify_signature,
)

SECRET = new_webhook_secret()
LOOPBACK_ALLOWED = WebhookSettings(allowed_networks=["127.0.0.1/32"], backoff_seconds=0.05, max_attempts=5)


@contextmanager
def receiver(
    respond: Callable[[int], tuple[int, dict[str, str]]], tls: ssl.SSLContext | None = None
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An HTTP server on 127.0.0.1 that verifies every signature it gets, like a real
    receiver would, and answers with ``respond(call_number)``."""
    calls: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            try:
                verify_signature(SECRET, self.headers[SIGNATURE_HEADER], body)
                valid = True
            except InvalidSignature:
                valid = False
            status, headers = respond(len(calls) + 1)
            calls.append(
                {
                    "path": self.path,
                    "body": body,
                    "valid": valid,
                    "status": status,
                    "delivery": self.headers[DELIVERY_HEADER],
                    "host": self.headers["Host"],
                }
            )
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/facefleet?x=1", calls
    finally:
        server.shutdown()
        server.server_close()


def deliver_webhook(
    url: str,
    payload: dict[str, Any],
    secret: str,
    settings: WebhookSettings,
    sleep: Callable[[float], None] = lambda _seconds: None,
    **options: Any,
) -> DeliveryReport:
    """Every attempt of one delivery, as the webhook task makes them (it is re-scheduled
    with each returned delay; here the delay is handed to ``sleep`` instead)."""
    report, delay = attempt_webhook(DeliveryReport.start(url), payload, secret, settings, **options)
    while delay is not None:
        sleep(delay)
        report, delay = attempt_webhook(report, payload, secret, settings, **options)
    return report


def _final_event() -> dict[str, Any]:
    event = JobEvent.create(
        "job-1",
        "proj-1",
        "enroll_batch",
        JobState.SUCCEEDED,
        result={"total": 100, "added": 100, "items": [{"embedding": [0.1] * 128}] * 100},
    )
    return event.to_dict()


@pytest.mark.integration
def test_receiver_gets_a_correctly_signed_call() -> None:
    with receiver(lambda _n: (204, {})) as (url, calls):
        assert validate_callback_url(url, LOOPBACK_ALLOWED) == url
        report = deliver_webhook(url, _final_event(), SECRET, LOOPBACK_ALLOWED)
    assert report.delivered and len(report.attempts) == 1 and report.attempts[0].status_code == 204
    assert len(calls) == 1 and calls[0]["valid"] is True
    assert calls[0]["path"] == "/hooks/facefleet?x=1"
    assert calls[0]["host"] == url.split("/")[2]
    body = json.loads(calls[0]["body"])
    assert body["state"] == "succeeded" and body["summary"] == {
        "total": 100,
        "added": 100,
        "items_count": 100,
    }


@pytest.mark.integration
def test_receiver_failing_twice_gets_exactly_one_accepted_delivery() -> None:
    with receiver(lambda n: (503, {}) if n <= 2 else (200, {})) as (url, calls):
        report = deliver_webhook(url, _final_event(), SECRET, LOOPBACK_ALLOWED)
    assert [call["status"] for call in calls] == [503, 503, 200]
    assert sum(1 for call in calls if call["status"] == 200) == 1
    assert all(call["valid"] for call in calls)
    assert len({call["delivery"] for call in calls}) == 1  # one delivery id for receivers to dedupe on
    recorded = report.to_dict()
    assert recorded["delivered"] is True
    assert [(a["attempt"], a["status_code"]) for a in recorded["attempts"]] == [(1, 503), (2, 503), (3, 200)]
    assert recorded["attempts"][0]["error"] == "HTTP 503" and recorded["attempts"][2]["error"] is None


@pytest.mark.integration
def test_retries_stop_at_the_bound_with_backoff_and_redirects_are_not_followed() -> None:
    delays: list[float] = []
    settings = LOOPBACK_ALLOWED.model_copy(
        update={"max_attempts": 4, "backoff_seconds": 1.0, "backoff_max_seconds": 3.0}
    )
    with receiver(lambda _n: (500, {})) as (url, calls):
        report = deliver_webhook(url, _final_event(), SECRET, settings, sleep=delays.append)
    assert not report.delivered and len(report.attempts) == 4 and len(calls) == 4
    assert delays == [1.0, 2.0, 3.0]

    with receiver(lambda _n: (302, {"Location": "http://169.254.169.254/latest/meta-data/"})) as (url, calls):
        report = deliver_webhook(url, _final_event(), SECRET, LOOPBACK_ALLOWED)
    assert not report.delivered and len(calls) == 1 and len(report.attempts) == 1
    assert report.attempts[0].status_code == 302


@pytest.mark.integration
def test_unreachable_receiver_is_retried_and_recorded() -> None:
    with receiver(lambda _n: (200, {})) as (url, _calls):
        pass  # server closed: the port now refuses connections
    report = deliver_webhook(
        url,
        _final_event(),
        SECRET,
        LOOPBACK_ALLOWED.model_copy(update={"max_attempts": 2}),
        sleep=lambda _s: None,
    )
    assert not report.delivered and len(report.attempts) == 2
    assert all(a.status_code is None and a.error for a in report.attempts)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:8080/hook",  # a hostname resolving to loopback
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "http://192.168.1.10/hook",
        "http://100.64.0.1/hook",
        "http://224.0.0.1/hook",
        "ftp://example.com/hook",
        "http://user:pw@example.com/hook",
        "http:///nohost",
    ],
)
def test_disallowed_urls_are_rejected(url: str) -> None:
    with pytest.raises(CallbackUrlRejected):
        validate_callback_url(url, Settings())


def test_allow_list_is_explicit_and_checks_every_resolved_address() -> None:
    allowed = WebhookSettings(allowed_networks=["10.0.0.0/8"])
    assert validate_callback_url("http://10.1.2.3/hook", allowed) == "http://10.1.2.3/hook"
    with pytest.raises(CallbackUrlRejected) as rejected:
        validate_callback_url("http://127.0.0.1/hook", allowed)
    assert rejected.value.reason == "address_not_allowed"
    with pytest.raises(CallbackUrlRejected) as rejected:
        validate_callback_url("http://localhost:8080/hook", allowed)  # resolved, then refused
    assert rejected.value.reason == "address_not_allowed"

    def mixed(host: str, port: int, *_args: Any) -> list[tuple[Any, ...]]:
        # One public and one internal address: a single bad answer is enough to refuse.
        return [(2, 1, 6, "", ("93.184.215.14", port)), (2, 1, 6, "", ("127.0.0.1", port))]

    with pytest.raises(CallbackUrlRejected):
        validate_callback_url("https://hooks.example.com/x", WebhookSettings(), resolve=mixed)

    def only_public(host: str, port: int, *_args: Any) -> list[tuple[Any, ...]]:
        return [(2, 1, 6, "", ("93.184.215.14", port))]

    assert validate_callback_url(
        "https://hooks.example.com/x#frag", WebhookSettings(), resolve=only_public
    ) == ("https://hooks.example.com/x")
    with pytest.raises(CallbackUrlRejected) as rejected:
        validate_callback_url(
            "https://evil.test/x", WebhookSettings(allowed_hosts=["example.com"]), resolve=only_public
        )
    assert rejected.value.reason == "host_not_allowed"
    with pytest.raises(CallbackUrlRejected):
        validate_callback_url(
            "http://hooks.example.com/x", WebhookSettings(require_https=True), resolve=only_public
        )


def test_signature_rejects_tampering_and_replay() -> None:
    body = b'{"job_id":"j"}'
    header = signature_header(SECRET, 1_700_000_000, body)
    assert verify_signature(SECRET, header, body, now=1_700_000_100) == 1_700_000_000
    with pytest.raises(InvalidSignature):
        verify_signature(SECRET, header, body + b" ", now=1_700_000_100)
    with pytest.raises(InvalidSignature):
        verify_signature("whsec_other", header, body, now=1_700_000_100)
    with pytest.raises(InvalidSignature):
        verify_signature(SECRET, header, body, tolerance_seconds=300, now=1_700_000_301)
    with pytest.raises(InvalidSignature):
        verify_signature(SECRET, "v1=abc", body)


@pytest.mark.integration
def test_https_connects_to_the_checked_address_and_verifies_the_hostname(tmp_path: Path) -> None:
    """The connection is pinned to the resolved address, yet TLS still checks the
    certificate against the URL's host name."""
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to make the test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with receiver(lambda _n: (200, {}), tls=context) as (url, calls):
        https_url = url.replace("http://127.0.0.1", "https://localhost")
        settings = LOOPBACK_ALLOWED.model_copy(update={"max_attempts": 1})
        untrusted = deliver_webhook(https_url, _final_event(), SECRET, settings)
        trusted = deliver_webhook(https_url, _final_event(), SECRET, settings, ca_certs=str(cert))
        wrong_name = deliver_webhook(
            url.replace("http://", "https://"), _final_event(), SECRET, settings, ca_certs=str(cert)
        )
    assert not untrusted.delivered and "CERTIFICATE_VERIFY_FAILED" in (untrusted.attempts[0].error or "")
    assert trusted.delivered and trusted.attempts[0].status_code == 200
    assert not wrong_name.delivered  # the certificate names localhost, not 127.0.0.1
    assert len(calls) == 1 and calls[0]["valid"]
