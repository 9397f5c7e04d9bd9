"""Where probe images live in the object store: one spelling for the API, which stores
them, and the workers, which delete them (docs/OPERATIONS.md, "Probe images")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PROBE_PREFIX = "probes/"
# Probes a client may name again after their job, by a token the answer gave it (seed
# 002's face_token: a search by token, an enrollment of the token's face). Their job does
# not delete them; reconciliation does once the token has expired.
NAMED_PROBE_PREFIX = "probes/named/"


def released_with_its_job(key: str) -> bool:
    """Whether the job that reads ``key`` deletes it once its outcome is stored."""
    return key.startswith(PROBE_PREFIX) and not key.startswith(NAMED_PROBE_PREFIX)


# The job payload fields that may name a probe image.
PROBE_FIELDS = ("image_key", "image1_key", "image2_key", "video_key", "reference_image_key")


def released_probe_keys(payload: Mapping[str, Any]) -> set[str]:
    """The probes ``payload`` names that go with its job (``released_with_its_job``)."""
    return {
        str(value)
        for name in PROBE_FIELDS
        if isinstance(value := payload.get(name), str) and released_with_its_job(value)
    }
