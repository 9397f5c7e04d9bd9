"""The Python client of FaceFleet's native API (see ``facefleet.client.client``)."""

from facefleet.client.client import FaceFleet, Job
from facefleet.client.errors import (
    AuthenticationFailed,
    FaceFleetError,
    JobFailed,
    JobTimeout,
    NotFound,
    RateLimited,
    Unavailable,
)

__all__ = [
    "AuthenticationFailed",
    "FaceFleet",
    "FaceFleetError",
    "Job",
    "JobFailed",
    "JobTimeout",
    "NotFound",
    "RateLimited",
    "Unavailable",
]
