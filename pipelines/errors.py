"""Typed domain errors. Every rejection carries a stable machine-readable code."""

from __future__ import annotations

from core.errors import ErrorCode

# ErrorCode is re-exported: pipeline code raises with the codes every layer shares.
__all__ = ["ErrorCode", "ImageError", "MultipleFacesError", "NoFaceError", "PipelineError", "UnknownModelError", "VideoError"]


class PipelineError(Exception):
    """Base class of every error the pipelines raise on purpose."""

    code: ErrorCode = ErrorCode.INVALID_IMAGE

    def __init__(self, message: str, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message


class ImageError(PipelineError):
    """The bytes are not an image we accept."""


class NoFaceError(PipelineError):
    code = ErrorCode.NO_FACE


class MultipleFacesError(PipelineError):
    code = ErrorCode.MULTIPLE_FACES


class VideoError(PipelineError):
    code = ErrorCode.INVALID_VIDEO


class UnknownModelError(PipelineError):
    code = ErrorCode.UNKNOWN_MODEL
