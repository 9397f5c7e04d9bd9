"""Which pymilvus failures are "not now" (503, retried) and which are bugs: the messages are
the ones a Milvus 2.3.5 server and pymilvus 2.5 gave while a server restarted (fault 4)."""

from __future__ import annotations

import pytest
from pymilvus.exceptions import MilvusException

from infra.errors import TransientInfraError
from infra.vector_index.errors import InvalidVectorFilter, is_not_loaded, is_transient, translated


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (101, "failed to search: collection not loaded[collection=470892274443354129]"),
        (101, "[search] Retry timeout: 5s, message=failed to search: collection not loaded[collection=1]"),
        (65535, "[search] Retry timeout: 5s, message=proxy TaskCondition context Done"),
        (2, "Fail connecting to server on 127.0.0.1:19530, illegal connection params or server unavailable"),
        (503, "channel not available[channel=by-dev-rootcoord-dml_0]"),
    ],
)
def test_what_a_restarting_server_answers_is_transient(code: int, message: str) -> None:
    error = MilvusException(code=code, message=message)
    assert is_transient(error)
    with pytest.raises(TransientInfraError), translated("search"):
        raise error


def test_not_loaded_is_recognised_through_the_translation() -> None:
    with pytest.raises(TransientInfraError) as raised, translated("search"):
        raise MilvusException(code=101, message="failed to search: collection not loaded[collection=1]")
    assert is_not_loaded(raised.value)
    with pytest.raises(TransientInfraError) as other, translated("search"):
        raise MilvusException(code=2, message="Fail connecting to server")
    assert not is_not_loaded(other.value)


def test_a_bad_filter_and_an_unknown_failure_are_not_transient() -> None:
    with pytest.raises(InvalidVectorFilter), translated("search", user_filter="x ==="):
        raise MilvusException(code=1100, message="Invalid expr: x ===")
    unknown = MilvusException(code=65535, message="field vector has a wrong dimension")
    assert not is_transient(unknown)
    with pytest.raises(MilvusException), translated("search"):
        raise unknown
