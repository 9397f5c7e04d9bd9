"""The limit of a sync probe sent in its task message: set, or derived from the broker."""

from __future__ import annotations

import pytest

from infra.settings import (
    INLINE_PROBE_BYTES_AMQP,
    INLINE_PROBE_BYTES_OTHER,
    ApiSettings,
    BrokerSettings,
    Settings,
)


@pytest.mark.parametrize(
    ("broker_url", "expected"),
    [
        ("amqp://guest:guest@rabbitmq:5672//", INLINE_PROBE_BYTES_AMQP),
        ("pyamqp://guest@localhost//", INLINE_PROBE_BYTES_AMQP),
        ("amqps://user:secret@broker.example:5671//", INLINE_PROBE_BYTES_AMQP),
        ("sqla+sqlite:///.facefleet/data/broker.db", INLINE_PROBE_BYTES_OTHER),
        ("sqla+postgresql://facefleet@db/facefleet", INLINE_PROBE_BYTES_OTHER),
        ("memory://", INLINE_PROBE_BYTES_OTHER),
    ],
)
def test_unset_the_limit_follows_the_broker(broker_url: str, expected: int) -> None:
    settings = Settings(broker=BrokerSettings(url=broker_url))
    assert settings.api.inline_probe_max_bytes is None
    assert settings.inline_probe_limit() == expected


def test_rabbitmq_carries_camera_photos_and_the_sql_transport_only_small_ones() -> None:
    assert INLINE_PROBE_BYTES_AMQP >= 2_500_000  # the largest photo measured inline
    assert INLINE_PROBE_BYTES_OTHER == 256 * 1024


@pytest.mark.parametrize("configured", [0, 100_000, 8 * 1024 * 1024])
def test_an_operators_limit_wins_on_every_broker(configured: int) -> None:
    for url in ("amqp://rabbitmq//", "sqla+sqlite:///broker.db"):
        settings = Settings(broker=BrokerSettings(url=url), api=ApiSettings(inline_probe_max_bytes=configured))
        assert settings.inline_probe_limit() == configured


def test_the_environment_sets_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEFLEET_BROKER__URL", "amqp://rabbitmq//")
    monkeypatch.setenv("FACEFLEET_API__INLINE_PROBE_MAX_BYTES", "0")
    assert Settings().inline_probe_limit() == 0
