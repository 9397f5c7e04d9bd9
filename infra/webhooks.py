"""Signed webhook delivery of a job's final state, with SSRF-safe callback URLs.

Signature (Stripe's scheme): ``X-FaceFleet-Signature: t=<unix seconds>,v1=<hex>`` where
``v1 = HMAC-SHA256(project secret, f"{t}.{raw body}")``. Receivers recompute it over the raw
body and refuse timestamps outside their tolerance, so a captured call cannot be replayed
later; ``X-FaceFleet-Delivery`` stays the same across retries so receivers can deduplicate.

SSRF: a callback URL is checked when the job is submitted and again before every attempt.
Every address the host resolves to must be public by the IANA special-purpose registries,
IPv4 embedded in IPv6 included (``infra.address_policy``), unless it lies in
``webhooks.allowed_networks``; each attempt resolves and checks again and then connects to
the address it checked (no second DNS lookup, so DNS rebinding cannot swap it), and
redirects are never followed (a 3xx is a final, recorded answer), so no connection ever
goes to an address that was not checked. Refusals never say what a name resolved to.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
import secrets
import socket
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

import certifi
import urllib3

from infra.address_policy import is_allowed, parse_networks
from infra.errors import InfraError
from infra.settings import Settings, WebhookSettings

SIGNATURE_HEADER = "X-FaceFleet-Signature"
DELIVERY_HEADER = "X-FaceFleet-Delivery"
ATTEMPT_HEADER = "X-FaceFleet-Attempt"
USER_AGENT = "FaceFleet-Webhooks/1"
_MAX_URL_LENGTH = 2048
_HOST_NAME = re.compile(r"(?=.{1,253}\.?$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?")
_RETRYABLE_STATUSES = frozenset({408, 425, 429})

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[..., Sequence[tuple[Any, ...]]]


class CallbackUrlRejected(InfraError):
    """A callback URL that FaceFleet refuses to call; ``reason`` is a stable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class InvalidSignature(Exception):
    """A webhook signature header that does not match, or is outside the replay window."""


def new_webhook_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def compute_signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={compute_signature(secret, timestamp, body)}"


def verify_signature(
    secret: str, header: str, body: bytes, tolerance_seconds: int = 300, now: float | None = None
) -> int:
    """Receiver side: raise ``InvalidSignature`` unless some ``v1`` matches and ``t`` is
    within the tolerance; returns ``t``. Several ``v1`` entries are accepted so a secret
    can be rotated with both signatures sent for a while."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise InvalidSignature("malformed signature header")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        raise InvalidSignature("timestamp outside the tolerance window")
    expected = compute_signature(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise InvalidSignature("signature mismatch")
    return timestamp


def _webhook_settings(settings: Settings | WebhookSettings) -> WebhookSettings:
    return settings.webhooks if isinstance(settings, Settings) else settings


def _split(url: str, webhooks: WebhookSettings) -> SplitResult:
    if len(url) > _MAX_URL_LENGTH:
        raise CallbackUrlRejected("too_long", "callback_url is too long")
    if not url.isprintable() or not url.isascii():
        raise CallbackUrlRejected("malformed", "callback_url must be printable ASCII (IDNA-encode host names)")
    try:
        parts = urlsplit(url.strip())
        _ = parts.hostname  # urllib checks a bracketed IPv6 literal lazily and raises on a bad one
    except ValueError as error:
        raise CallbackUrlRejected("malformed", "callback_url is not a valid URL") from error
    schemes = ("https",) if webhooks.require_https else ("http", "https")
    if parts.scheme not in schemes:
        raise CallbackUrlRejected("scheme", f"callback_url must use {' or '.join(schemes)}")
    if not parts.hostname:
        raise CallbackUrlRejected("host", "callback_url has no host")
    if ":" not in parts.hostname and not _HOST_NAME.fullmatch(parts.hostname):
        raise CallbackUrlRejected("malformed", "callback_url's host is not a valid host name")
    if parts.username is not None or parts.password is not None:
        # Credentials would end up in logs and attempt records; the signature authenticates.
        raise CallbackUrlRejected("credentials", "callback_url must not contain credentials")
    try:
        _ = parts.port  # urllib parses the port lazily and raises on a bad one
    except ValueError as error:
        raise CallbackUrlRejected("port", "callback_url has an invalid port") from error
    return parts


def _host_allowed(host: str, allowed_hosts: Sequence[str]) -> bool:
    if not allowed_hosts:
        return True
    host = host.rstrip(".").lower()
    return any(
        host == entry.lower() or host.endswith("." + entry.lower().lstrip(".")) for entry in allowed_hosts
    )


def resolve_allowed_addresses(
    url: str, settings: Settings | WebhookSettings, resolve: Resolver = socket.getaddrinfo
) -> tuple[SplitResult, list[str]]:
    """Check the URL and return it split, with every address it resolves to (all allowed)."""
    webhooks = _webhook_settings(settings)
    parts = _split(url, webhooks)
    host = parts.hostname or ""
    if not _host_allowed(host, webhooks.allowed_hosts):
        raise CallbackUrlRejected("host_not_allowed", f"callback host {host!r} is not in the allow-list")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    # One answer for "does not resolve" and "resolves somewhere private": the caller must
    # not learn what a name resolves to from this server's point of view.
    refused = CallbackUrlRejected(
        "address_not_allowed",
        "callback_url's host must resolve to public addresses only "
        "(or to networks the operator allows in webhooks.allowed_networks)",
    )
    try:
        infos = resolve(host, port, 0, socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as error:
        raise refused from error
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    networks = parse_networks(webhooks.allowed_networks)
    for text in addresses:
        try:
            address = ipaddress.ip_address(text)
        except ValueError as error:  # a scoped (%zone) link-local address
            raise refused from error
        if not is_allowed(address, networks):
            raise refused
    if not addresses:
        raise refused
    return parts, addresses


def validate_callback_url(
    url: str, settings: Settings | WebhookSettings, resolve: Resolver = socket.getaddrinfo
) -> str:
    """Submit-time check; returns the normalized URL (fragment dropped) or raises
    ``CallbackUrlRejected``."""
    parts, _addresses = resolve_allowed_addresses(url, settings, resolve)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))


@dataclass(frozen=True)
class DeliveryAttempt:
    attempt: int
    at: str
    status_code: int | None
    error: str | None
    duration_ms: int


@dataclass(frozen=True)
class DeliveryReport:
    url: str
    delivery_id: str
    delivered: bool
    attempts: tuple[DeliveryAttempt, ...]

    @classmethod
    def start(cls, url: str) -> DeliveryReport:
        """A delivery not yet attempted; its id stays the same across attempts, so
        receivers can deduplicate."""
        return cls(url, uuid.uuid4().hex, False, ())

    @classmethod
    def from_dict(cls, stored: Mapping[str, Any]) -> DeliveryReport:
        return cls(
            str(stored["url"]),
            str(stored["delivery_id"]),
            bool(stored["delivered"]),
            tuple(DeliveryAttempt(**attempt) for attempt in stored.get("attempts", [])),
        )

    def to_dict(self) -> dict[str, Any]:
        """What the caller stores on the job (e.g. ``result["webhook"]``)."""
        return {
            "url": self.url,
            "delivery_id": self.delivery_id,
            "delivered": self.delivered,
            "attempts": [asdict(attempt) for attempt in self.attempts],
        }


def backoff_delay(attempt: int, base_seconds: float, cap_seconds: float) -> float:
    """Delay after failed attempt number ``attempt`` (1-based): base, 2×base, 4×base… capped."""
    return float(min(cap_seconds, base_seconds * (2 ** (attempt - 1))))


def _is_retryable(status: int | None) -> bool:
    return status is None or status >= 500 or status in _RETRYABLE_STATUSES


def _post_pinned(
    parts: SplitResult,
    addresses: Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    timeout: float,
    ca_certs: str,
) -> int:
    """POST to the checked address itself; TLS still verifies the certificate for the host."""
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    target = urlunsplit(("", "", parts.path or "/", parts.query, ""))
    request_headers = {**headers, "Host": parts.netloc}
    last_error: Exception | None = None
    for address in addresses:
        pool: urllib3.HTTPConnectionPool
        if parts.scheme == "https":
            pool = urllib3.HTTPSConnectionPool(
                address,
                port,
                server_hostname=host,
                assert_hostname=host,
                cert_reqs="CERT_REQUIRED",
                ca_certs=ca_certs,
                timeout=urllib3.Timeout(connect=timeout, read=timeout),
                retries=False,
            )
        else:
            pool = urllib3.HTTPConnectionPool(
                address, port, timeout=urllib3.Timeout(connect=timeout, read=timeout), retries=False
            )
        try:
            response = pool.urlopen(
                "POST", target, body=body, headers=request_headers, redirect=False, retries=False
            )
            return int(response.status)
        except urllib3.exceptions.NewConnectionError as error:
            last_error = error  # the next address may answer
        finally:
            pool.close()
    assert last_error is not None
    raise last_error


def attempt_webhook(
    report: DeliveryReport,
    payload: Mapping[str, Any],
    secret: str,
    settings: Settings | WebhookSettings,
    *,
    clock: Callable[[], float] = time.time,
    resolve: Resolver = socket.getaddrinfo,
    ca_certs: str | None = None,
) -> tuple[DeliveryReport, float | None]:
    """Make the next attempt of a delivery: POST ``payload`` (the final job event) once.

    Returns the report with the attempt added, and the delay before the next attempt, or
    None once the delivery is over (a 2xx, a permanent refusal, or the attempt bound).
    Network errors, 408/425/429 and 5xx are retried with exponential backoff; other
    statuses (3xx included: redirects are not followed) are final. The caller schedules
    the next attempt (a Celery retry with this countdown), so nobody waits through the
    backoff. ``ca_certs`` replaces certifi's bundle (a private CA for internal receivers)."""
    webhooks = _webhook_settings(settings)
    max_attempts = max(1, webhooks.max_attempts)
    if report.delivered or len(report.attempts) >= max_attempts:
        return report, None
    number = len(report.attempts) + 1
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    started = time.monotonic()
    at = datetime.fromtimestamp(clock(), UTC).isoformat(timespec="milliseconds")
    status: int | None = None
    error: str | None = None
    delivered = retry = False
    try:
        parts, addresses = resolve_allowed_addresses(report.url, webhooks, resolve)
        timestamp = int(clock())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: signature_header(secret, timestamp, body),
            DELIVERY_HEADER: report.delivery_id,
            ATTEMPT_HEADER: str(number),
        }
        status = _post_pinned(parts, addresses, headers, body, webhooks.timeout_seconds, ca_certs or certifi.where())
        delivered = 200 <= status < 300
        retry = not delivered and _is_retryable(status)
        if not delivered:
            error = f"HTTP {status}"
    except CallbackUrlRejected as rejected:
        error = f"rejected: {rejected.reason}: {rejected.message}"
    except (urllib3.exceptions.HTTPError, OSError) as failure:
        # A connection error's text names the address that was dialled: the kind only.
        # A TLS failure's reason (an untrusted certificate) names no address.
        reason = _tls_reason(failure) or "the callback host did not answer"
        error = f"{type(failure).__name__}: {reason}"
        retry = True
    attempt = DeliveryAttempt(number, at, status, error, int((time.monotonic() - started) * 1000))
    report = replace(report, delivered=delivered, attempts=(*report.attempts, attempt))
    if delivered or not retry or number >= max_attempts:
        return report, None
    return report, backoff_delay(number, webhooks.backoff_seconds, webhooks.backoff_max_seconds)


def _tls_reason(failure: Exception) -> str | None:
    """The verification reason of a TLS failure (e.g. CERTIFICATE_VERIFY_FAILED), if any."""
    text = str(failure)
    for marker in ("CERTIFICATE_VERIFY_FAILED", "certificate verify failed", "hostname mismatch", "WRONG_VERSION_NUMBER"):
        if marker in text:
            return marker
    return None
