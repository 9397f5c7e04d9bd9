"""Domain failures of a job: they fail fast, are stored on the job, and are never retried."""

from __future__ import annotations

from typing import Any

from core.errors import DomainError, ErrorCode


class JobFailure(DomainError):
    def __init__(self, code: ErrorCode | str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(code, message, details)
