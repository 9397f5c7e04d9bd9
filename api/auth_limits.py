"""Failed-authentication limiting, per client address and per key id, for every surface.

The per-key request limit (``api.app``) gives every distinct token its own bucket, so a
stream of random tokens is never limited by it. This one counts *failures*: once an
address (or a key id) has failed ``api.failed_auth_per_minute`` times within a minute,
further attempts with tokens that never succeeded from that address get 429 with
``Retry-After``, without a key lookup, until the window has room again. Tokens that did
succeed from that address recently keep working, so a guessing neighbour behind the same
NAT cannot lock out its valid clients. New tokens cannot reset anything: the buckets are
keyed by address and key id, not by token.

The client address is the TCP peer, or the nearest untrusted ``X-Forwarded-For`` hop when
the peer is one of ``api.trusted_proxies``. Counters live in ``api.rate_limit_storage_uri``
(``limits`` storage: ``memory://`` per API process, the default; ``redis://host`` shares
them across processes and hosts), so with memory storage the bound holds per process.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, request
from limits import RateLimitItemPerDay, RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from infra.db.projects import split_key
from infra.settings import Settings

EXTENSION_KEY = "facefleet_auth_limiter"
MAX_TOKEN_LENGTH = 512


class AuthThrottled(Exception):
    """Too many failed authentications from this address or for this key id."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed authentications; retry after {retry_after} s")
        self.retry_after = retry_after


@dataclass
class FailedAuthLimiter:
    limiter: MovingWindowRateLimiter
    failures: RateLimitItemPerMinute
    remembered: RateLimitItemPerDay
    trusted_proxies: list[ipaddress.IPv4Network | ipaddress.IPv6Network]

    @classmethod
    def from_settings(cls, settings: Settings) -> FailedAuthLimiter:
        api: Any = settings.api
        storage = storage_from_string(getattr(api, "rate_limit_storage_uri", "memory://"))
        per_minute = max(1, int(getattr(api, "failed_auth_per_minute", 30)))
        proxies = [ipaddress.ip_network(entry, strict=False) for entry in getattr(api, "trusted_proxies", [])]
        return cls(MovingWindowRateLimiter(storage), RateLimitItemPerMinute(per_minute), RateLimitItemPerDay(1), proxies)

    def client_address(self) -> str:
        peer = request.remote_addr or "unknown"
        if not self._trusted(peer):
            return peer
        hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",") if hop.strip()]
        for hop in reversed(hops):  # the right-most hops were added by our own proxies
            if not self._trusted(hop):
                return hop
        return hops[0] if hops else peer

    def _trusted(self, text: str) -> bool:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return False
        return any(address in network for network in self.trusted_proxies)

    def authenticate(self, token: str, verify: Callable[[str], Any]) -> Any:
        """``verify(token)`` (the key's row, or None) unless this address or this key id
        is over its failure limit and ``token`` has not succeeded from here before."""
        address = self.client_address()
        key_id = _key_id(token)
        token_mark = ("ok", address, hashlib.sha256(token.encode("utf-8", "replace")).hexdigest())
        limited = [("addr", address)] + ([("kid", key_id)] if key_id else [])
        blocked = [bucket for bucket in limited if not self.limiter.test(self.failures, *bucket)]
        if blocked and not self._remembered(token_mark):
            raise AuthThrottled(max(self._retry_after(bucket) for bucket in blocked))
        key = verify(token) if token and len(token) <= MAX_TOKEN_LENGTH else None
        if key is None:
            for bucket in limited:
                self.limiter.hit(self.failures, *bucket)
        else:
            self.limiter.hit(self.remembered, *token_mark)
        return key

    def _remembered(self, mark: tuple[str, ...]) -> bool:
        return self.limiter.get_window_stats(self.remembered, *mark).remaining == 0

    def _retry_after(self, bucket: tuple[str, ...]) -> int:
        reset = self.limiter.get_window_stats(self.failures, *bucket).reset_time
        return max(1, math.ceil(reset - time.time()))


def _key_id(token: str) -> str | None:
    parts = split_key(token) if len(token) <= MAX_TOKEN_LENGTH else None
    return parts[0][:64] if parts else None


def install(app: Flask, settings: Settings) -> None:
    app.extensions[EXTENSION_KEY] = FailedAuthLimiter.from_settings(settings)


def authenticate_limited(token: str, verify: Callable[[str], Any]) -> Any:
    """The key row for ``token`` through the app's limiter (``AuthThrottled`` when over)."""
    limiter: FailedAuthLimiter | None = current_app.extensions.get(EXTENSION_KEY)
    if limiter is None:
        return verify(token) if token and len(token) <= MAX_TOKEN_LENGTH else None
    return limiter.authenticate(token, verify)


def client_address() -> str:
    """The request's client address as the limiters see it (trusted proxies unwrapped)."""
    limiter: FailedAuthLimiter | None = current_app.extensions.get(EXTENSION_KEY)
    return limiter.client_address() if limiter is not None else (request.remote_addr or "unknown")
