"""Registered bring-your-own recognition models, kept in the object store so that every
worker can fetch them.

A registration is two objects: the model file under its content hash
(``byo-models/files/<sha256>``, so its key names its checksum) and a small JSON record under
``byo-models/registry/<name>/``. Workers load a registered model on first use
(``workers.models.registered_model_path``) and verify its checksum on load.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

from infra.object_store.base import ObjectStore

FILES_PREFIX: Final = "byo-models/files"
REGISTRY_PREFIX: Final = "byo-models/registry"
MODEL_ID_PREFIX: Final = "arcface-"
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    family: str
    sha256: str
    file_key: str
    threshold: float | None = None
    """The operator's same-person distance for this model (unit vectors: 0..2), measured on
    their own data; None when none was given, and then FaceFleet has no threshold for it:
    search needs far= (the face set's own calibration) or an explicit similarity threshold."""

    @property
    def model_id(self) -> str:
        return MODEL_ID_PREFIX + self.name


class RegistrationError(ValueError):
    """The file, its checksum or its name cannot be registered."""


def name_of(model_id: str) -> str | None:
    """The registered name a model id refers to, or None for a built-in model."""
    return model_id[len(MODEL_ID_PREFIX) :] if model_id.startswith(MODEL_ID_PREFIX) else None


def register(
    store: ObjectStore, name: str, file: Path, sha256: str, threshold: float | None = None
) -> RegisteredModel:
    """Store ``file`` as model ``name`` after checking it against ``sha256``. Registering the
    same file again is a no-op; another file under a taken name is refused."""
    if not _NAME.fullmatch(name):
        raise RegistrationError("a model name is 1-40 of [a-z0-9_-], starting with a letter or digit")
    if threshold is not None and not 0.0 < threshold < 2.0:
        raise RegistrationError("a threshold is a distance between unit vectors: more than 0, less than 2")
    digest = hashlib.sha256()
    with file.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != sha256.lower():
        raise RegistrationError(f"{file.name} has sha256 {digest.hexdigest()}, not {sha256}")
    existing = lookup(store, name)
    if existing is not None:
        if existing.sha256 != digest.hexdigest():
            raise RegistrationError(f"model {name!r} is already registered with another file")
        return existing
    with file.open("rb") as handle:
        file_key = store.put_stream(handle, "application/octet-stream", prefix=FILES_PREFIX)
    record = RegisteredModel(
        name=name, family="arcface", sha256=digest.hexdigest(), file_key=file_key, threshold=threshold
    )
    store.put(json.dumps(asdict(record)).encode(), "application/json", prefix=f"{REGISTRY_PREFIX}/{name}")
    return record


def lookup(store: ObjectStore, name: str) -> RegisteredModel | None:
    if not _NAME.fullmatch(name):
        return None
    for key in store.list_keys(f"{REGISTRY_PREFIX}/{name}"):
        if key.startswith(f"{REGISTRY_PREFIX}/{name}/"):
            return RegisteredModel(**json.loads(store.get(key)))
    return None


def registered(store: ObjectStore) -> list[RegisteredModel]:
    names = sorted({key.split("/")[2] for key in store.list_keys(REGISTRY_PREFIX) if key.count("/") >= 3})
    return [model for model in (lookup(store, name) for name in names) if model is not None]
