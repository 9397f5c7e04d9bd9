"""Typed domain errors. Every rejection carries a stable machine-readable code."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID_IMAGE = "invalid_image"
    UNSUPPORTED_FORMAT = "unsupported_format"
    IMAGE_TOO_LARGE = "image_too_large"
    IMAGE_TOO_SMALL = "image_too_small"
    NO_FACE = "no_face"
    MULTIPLE_FACES = "multiple_faces"
    LOW_QUALITY = "low_quality"
    INVALID_VIDEO = "invalid_video"
    UNKNOWN_MODEL = "unknown_model"


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
