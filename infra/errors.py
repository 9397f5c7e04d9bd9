"""Error classes every adapter raises, so callers classify failures once.

``TransientInfraError`` means "try again later" (a store is down, a connection dropped);
workers retry it with backoff and the API answers 503. Anything else is a bug or a
domain error and is never retried.
"""

from __future__ import annotations


class InfraError(Exception):
    """Base class of adapter errors."""


class TransientInfraError(InfraError):
    """A dependency is unreachable or overloaded; the same call may succeed later."""

    def __init__(self, service: str, message: str) -> None:
        super().__init__(f"{service}: {message}")
        self.service = service


class ObjectNotFound(InfraError):
    """The object store has no object under that key."""
