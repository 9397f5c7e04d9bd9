"""pymilvus failures sorted once into what a caller can act on.

"The store is unreachable" becomes ``TransientInfraError`` (workers retry it, the API
answers 503); "your filter is not an expression" becomes ``InvalidVectorFilter`` (a
``ValueError``: the request is wrong and retrying cannot help). Everything else is left as
it is, because it is a bug in this adapter or a misconfigured server.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import grpc
from pymilvus.exceptions import ErrorCode, MilvusException, MilvusUnavailableException

from infra.errors import TransientInfraError

SERVICE = "milvus"

# gRPC codes that mean "not now" rather than "never".
_TRANSIENT_GRPC = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.CANCELLED,
    }
)
# pymilvus's "Fail connecting to server", the server's rate limiter, and the server's
# "not yet" errors (merr codes): a restarted server answers "collection not loaded" (101)
# for some seconds while it reloads what was loaded, and replicas, channels, segments and
# query nodes are briefly missing (401, 501, 503, 602, 902, 903, 905) while it recovers.
_TRANSIENT_CODES = frozenset(
    {2, int(ErrorCode.RATE_LIMIT), 101, 103, 202, 203, 401, 501, 503, 602, 902, 903, 905}
)
NOT_LOADED_CODES = frozenset({101, 103, 202, 203})
# A timeout is always worth retrying: pymilvus's "Retry timeout" (it gave up retrying a
# retriable error) and the server's own deadlines, e.g. "proxy TaskCondition context Done"
# (code 65535), which a restarted server answers while its query nodes recover.
_TRANSIENT_WORDS = (
    "fail connecting", "server unavailable", "not ready", "not healthy", "connection refused",
    "not loaded", "not fully loaded",
    "retry timeout", "context done", "deadline exceeded", "context canceled",
)
# milvus-lite says "Invalid expr: ..." (code 1100); the server "failed to create query
# plan: cannot parse expression: ..." (code 65535 on 2.3).
_FILTER_WORDS = ("invalid expr", "cannot parse expression", "failed to create query plan")


class InvalidVectorFilter(ValueError):
    """The filter expression given to ``search`` is not one Milvus accepts."""


def is_transient(error: BaseException) -> bool:
    if isinstance(error, MilvusUnavailableException):
        return True
    if isinstance(error, grpc.RpcError):
        code = error.code() if callable(getattr(error, "code", None)) else None
        return code in _TRANSIENT_GRPC
    if isinstance(error, MilvusException):
        code = _grpc_status(error)
        if code is not None:
            return code in _TRANSIENT_GRPC
        if error.code in _TRANSIENT_CODES:
            return True
        return any(word in str(error.message).lower() for word in _TRANSIENT_WORDS)
    return False


def is_not_loaded(error: BaseException) -> bool:
    """The server does not have the collection in memory (it restarted, or is reloading it)."""
    cause = error.__cause__ if isinstance(error, TransientInfraError) else error
    return isinstance(cause, MilvusException) and (
        cause.code in NOT_LOADED_CODES or "not loaded" in str(cause.message).lower()
    )


def _grpc_status(error: MilvusException) -> grpc.StatusCode | None:
    """The gRPC status of a failure pymilvus gave up retrying, else None.

    pymilvus 2.5 re-raises it as a MilvusException whose ``code`` is the RpcError's bound
    ``code`` method rather than its result, so both shapes are accepted."""
    code: object = error.code
    if callable(code):
        code = code()
    return code if isinstance(code, grpc.StatusCode) else None


def is_filter_error(error: BaseException) -> bool:
    if not isinstance(error, MilvusException) or _grpc_status(error) is not None:
        return False
    return any(word in str(error.message).lower() for word in _FILTER_WORDS)


@contextmanager
def translated(operation: str, user_filter: str | None = None) -> Iterator[None]:
    """Run a block of pymilvus calls, re-raising its failures as the classes above."""
    try:
        yield
    except (MilvusException, grpc.RpcError) as error:
        if is_transient(error):
            raise TransientInfraError(SERVICE, f"{operation}: {error}") from error
        if user_filter is not None and is_filter_error(error):
            raise InvalidVectorFilter(f"invalid filter {user_filter!r}: {error}") from error
        raise
