"""Where probe images live in the object store: one spelling for the API, which stores
them, and the workers, which delete them (docs/OPERATIONS.md, "Probe images")."""

from __future__ import annotations

PROBE_PREFIX = "probes/"
# Probes a client may name again after their job, by a token the answer gave it (seed
# 002's face_token: a search by token, an enrollment of the token's face). Their job does
# not delete them; reconciliation does once the token has expired.
NAMED_PROBE_PREFIX = "probes/named/"


def released_with_its_job(key: str) -> bool:
    """Whether the job that reads ``key`` deletes it once its outcome is stored."""
    return key.startswith(PROBE_PREFIX) and not key.startswith(NAMED_PROBE_PREFIX)
