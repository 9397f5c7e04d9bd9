"""The Rekognition endpoint's server encryption key in embedded mode.

Apart from `facefleet.embedded` so that the admin CLI in the API image (no pymilvus, no
worker stack) can use it."""

from __future__ import annotations

import os

from pydantic import SecretStr

from infra.settings import Mode, Settings

REKOGNITION_KEY_FILE = "rekognition-server.key"


def with_rekognition_server_key(settings: Settings) -> Settings:
    """Embedded mode works without configuring the Rekognition endpoint's server key: one is
    made once and kept (mode 0600) in the data folder. A configured key always wins."""
    if settings.rekognition.encryption_keys or settings.mode is not Mode.EMBEDDED:
        return settings
    path = settings.data_dir / REKOGNITION_KEY_FILE
    if not path.exists():
        from infra.db.rekognition import new_encryption_key

        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it meanwhile
        else:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(new_encryption_key())
    keys = [SecretStr(path.read_text().strip())]
    return settings.model_copy(
        update={"rekognition": settings.rekognition.model_copy(update={"encryption_keys": keys})}
    )
