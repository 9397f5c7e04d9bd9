"""Name → factory tables for detectors and embedders.

Names come from configuration, so an unknown one must fail when the worker starts, not on
the first job: ``require`` (and ``create``) raise ``UnknownModelError`` listing the known
names. Factories only record their options; models load lazily on first use.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

from pipelines.detection.base import Detector
from pipelines.embedding.base import Embedder
from pipelines.errors import UnknownModelError


class ModelKind(StrEnum):
    DETECTOR = "detector"
    EMBEDDER = "embedder"


Factory = Callable[..., Any]


class Registry:
    def __init__(self) -> None:
        self._factories: dict[ModelKind, dict[str, Factory]] = {kind: {} for kind in ModelKind}

    def register(self, kind: ModelKind | str, name: str, factory: Factory) -> None:
        table = self._factories[ModelKind(kind)]
        if name in table:
            raise ValueError(f"{kind} {name!r} is already registered")
        table[name] = factory

    def names(self, kind: ModelKind | str) -> list[str]:
        return sorted(self._factories[ModelKind(kind)])

    def require(self, kind: ModelKind | str, name: str) -> Factory:
        table = self._factories[ModelKind(kind)]
        factory = table.get(name)
        if factory is None:
            known = ", ".join(sorted(table)) or "none"
            raise UnknownModelError(f"unknown {ModelKind(kind).value} {name!r} (known: {known})")
        return factory

    def create(self, kind: ModelKind | str, name: str, **options: Any) -> Any:
        return self.require(kind, name)(**options)

    def detector(self, name: str, **options: Any) -> Detector:
        detector: Detector = self.create(ModelKind.DETECTOR, name, **options)
        return detector

    def embedder(self, name: str, **options: Any) -> Embedder:
        embedder: Embedder = self.create(ModelKind.EMBEDDER, name, **options)
        return embedder
