"""Request and response models of the native API.

These pydantic models are both what requests are validated with and what the OpenAPI
document is generated from (flask-openapi3), so the two cannot drift. A job's result is
answered as the worker's result model (``core.results``), so those models are the
responses of the compute endpoints and of a job's ``result``. Each endpoint that
takes an image has a JSON model and a multipart model sharing one base: multipart adds
the file parts and receives JSON-typed values (external_fields, sort...) as JSON text.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from flask_openapi3.models.file import FileStorage
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.request_models import RequestParameters
from core.results import CalibrationResult, JobResult, StoredFace
from infra.search_filter import FIELD_TYPES, FieldType

NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
EXTERNAL_IMAGE_ID_PATTERN = r"^[A-Za-z0-9_-]{1,36}$"
ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"
USER_ID_PATTERN = r"^[A-Za-z0-9_.@:-]{1,128}$"

FaceSetName = Annotated[str, Field(pattern=NAME_PATTERN, description="1-64 of [A-Za-z0-9_-]")]
ExternalImageId = Annotated[
    str, Field(pattern=EXTERNAL_IMAGE_ID_PATTERN, description="1-36 of [A-Za-z0-9_-]")
]
UserId = Annotated[str, Field(pattern=USER_ID_PATTERN, description="groups faces of one person")]
OnDuplicate = Literal["reject", "flag", "allow"]


class Strict(BaseModel):
    """A request body that refuses unknown fields (a misspelt option is an error, not ignored)."""

    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------ path and query


class ProjectPath(BaseModel):
    project_id: str = Field(pattern=ID_PATTERN)


class FaceSetPath(ProjectPath):
    face_set_name: str = Field(pattern=ID_PATTERN)


class JobPath(ProjectPath):
    job_id: str = Field(pattern=ID_PATTERN)


class AsyncQuery(RequestParameters):
    async_: bool = Field(
        False, alias="async", description="answer 202 at once with the job (as Prefer: respond-async)"
    )
    callback_url: str | None = Field(
        None, max_length=2048, description="POST the job's signed final event here (as X-Callback-Url)"
    )

    model_config = ConfigDict(populate_by_name=True)


class CalibrationQuery(AsyncQuery):
    format: Literal["json", "svg"] = Field("json", description="svg: the FAR/FRR curve as a picture")


class CalibrationResponse(CalibrationResult):
    """The calibration as JSON, or with ``format=svg`` its curve as an SVG picture: the
    document names both media types of the 200, so a client (or a conformance check) expects
    the picture where it asked for one."""

    # flask-openapi3 adds ``openapi_extra``'s content to the response's application/json one;
    # the title keeps the schema's component name.
    model_config = ConfigDict(
        title="CalibrationResult",
        openapi_extra={  # type: ignore[typeddict-unknown-key]
            "content": {
                "image/svg+xml": {"schema": {"type": "string", "description": "format=svg: the FAR/FRR curve"}}
            }
        },
    )


class JobHeaders(RequestParameters):
    idempotency_key: str | None = Field(
        None,
        alias="Idempotency-Key",
        pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
        description="retrying with the same key returns the same job and starts nothing new",
    )
    prefer: str | None = Field(None, alias="Prefer", description="respond-async: answer 202 at once")
    callback_url: str | None = Field(
        None,
        alias="X-Callback-Url",
        max_length=2048,
        description="POST the job's signed final event to this URL (docs/EVENTS.md); checked against SSRF rules",
    )

    model_config = ConfigDict(populate_by_name=True)


class FaceQuery(RequestParameters):
    face_id: str | None = Field(None, pattern=ID_PATTERN)
    user_id: UserId | None = Field(None, description="only this person's faces")
    filter: str | None = Field(
        None, min_length=1, max_length=2048, description="only faces whose fields match"
    )
    offset: int = Field(0, ge=0, le=10_000_000)
    limit: int = Field(100, ge=1, le=1000)


class DeleteFacesQuery(AsyncQuery):
    face_id: str | None = Field(None, pattern=ID_PATTERN)
    external_image_id: str | None = Field(None, pattern=EXTERNAL_IMAGE_ID_PATTERN)
    filter: str | None = Field(None, min_length=1, max_length=2048, description="seed filter syntax")


# ------------------------------------------------------------------ images


class ImageJson(Strict):
    image_base64: str | None = Field(None, description="base64 (data: prefix allowed)")
    image_url: str | None = Field(None, description="/bucket/key of an object in this service's store")


class ImageForm(ImageJson):
    image_file: FileStorage | None = None


# ------------------------------------------------------------------ face sets


class FieldSpec(Strict):
    type: FieldType = Field(description=f"one of {', '.join(FIELD_TYPES)}")


class FaceSetCreate(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {"face_set_name": "staff", "external_fields": {"badge": {"type": "string"}}}
        }
    )

    face_set_name: FaceSetName
    face_set_capacity: int | None = Field(None, ge=1, description="default and maximum come from settings")
    external_fields: dict[str, FieldSpec] = Field(default_factory=dict)
    model: str | None = Field(
        None,
        max_length=64,
        description="embedding model of its faces; default dlib-resnet-flip-v1 (docs/PIPELINE.md)",
    )


class ReindexBody(Strict):
    model: str = Field(max_length=64, description="the model to move the face set to")


class FaceSetInfo(BaseModel):
    face_set_id: str
    face_set_name: str
    face_number: int
    face_set_capacity: int
    create_date: str = Field(description="UTC, YYYY-MM-DD HH:MM:SS")
    external_fields: dict[str, FieldSpec]
    model: str | None = Field(None, description="the embedding model its faces are searched with")
    reindex_model: str | None = Field(None, description="the model a running reindex moves it to")
    previous_model: str | None = Field(None, description="the model whose vectors remain until cleanup")


class FaceSetInfoResponse(BaseModel):
    face_set_info: FaceSetInfo


class FaceSetListResponse(BaseModel):
    face_sets_info: list[FaceSetInfo]


class FaceSetDeleted(BaseModel):
    face_set_name: str
    deleted_faces: int | None = None


# ------------------------------------------------------------------ faces


class _AddFaceOptions(BaseModel):
    external_image_id: ExternalImageId | None = None
    external_fields: dict[str, Any] = Field(default_factory=dict)
    user_id: UserId | None = None
    on_duplicate: OnDuplicate = "allow"
    select: Literal["all", "largest", "single"] = Field("all", description="which detected faces are added")
    quality_gate: bool = False


class AddFaceJson(ImageJson, _AddFaceOptions):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "image_base64": "/9j/4AAQSkZJRg…",
                "user_id": "alice",
                "external_fields": {"badge": "A-17"},
            }
        }
    )


class AddFaceForm(ImageForm, _AddFaceOptions):
    pass


class FaceListResponse(BaseModel):
    face_set_id: str
    face_set_name: str
    faces: list[StoredFace]
    total: int | None = None


class FaceUpdate(Strict):
    face_id: str = Field(pattern=ID_PATTERN)
    external_image_id: ExternalImageId | None = None
    external_fields: dict[str, Any] | None = None
    user_id: UserId | None = None


class FaceUpdated(BaseModel):
    face_number: int
    face_set_id: str
    face_set_name: str


class BatchDeleteBody(Strict):
    filter: str = Field(min_length=1, max_length=2048, description="seed filter syntax")


class FacesDeleted(BaseModel):
    face_number: int
    face_set_id: str
    face_set_name: str


# ------------------------------------------------------------------ search


class _SearchOptions(BaseModel):
    face_id: str | None = Field(None, pattern=ID_PATTERN, description="probe with a stored face")
    top_n: int = Field(10, ge=1, le=1000)
    threshold: float = Field(0.0, ge=0.0, le=1.0, description="minimum similarity")
    filter: str | None = Field(None, min_length=1, max_length=2048)
    sort: list[dict[str, Literal["asc", "desc"]]] = Field(default_factory=list)
    return_fields: list[str] | None = None
    all_faces: bool = Field(False, description="search every face of the image, label non-matches unknown")
    group_by: Literal["face", "person"] = Field("face", description="person: one result per user_id")
    far: float | None = Field(
        None,
        gt=0.0,
        lt=1.0,
        description="target false-accept rate in place of threshold, from the face set's own calibration",
    )

    @field_validator("return_fields", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        # The seed documents return_fields as a String while its examples send an array.
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


class SearchJson(ImageJson, _SearchOptions):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "image_base64": "/9j/4AAQSkZJRg…",
                "top_n": 5,
                "threshold": 0.6,
                "filter": "badge:A-17",
            }
        }
    )


class SearchForm(ImageForm, _SearchOptions):
    pass


# ------------------------------------------------------------------ batch


class BatchItemMeta(Strict):
    source: str = Field(description="file name, archive member path or object key this entry describes")
    external_image_id: ExternalImageId | None = None
    user_id: UserId | None = None
    external_fields: dict[str, Any] = Field(default_factory=dict)


class _BatchOptions(BaseModel):
    on_duplicate: OnDuplicate = "allow"
    select: Literal["single", "largest", "all"] = "single"
    quality_gate: bool = False
    user_id_from: Literal["none", "folder", "filename"] = Field(
        "none", description="derive user_id from the archive folder or the file name stem"
    )
    external_fields: dict[str, Any] = Field(default_factory=dict, description="applied to every item")
    items: list[BatchItemMeta] = Field(default_factory=list, description="per-item metadata by source")


class BatchJson(Strict, _BatchOptions):
    image_keys: list[str] | None = Field(None, max_length=100_000, description="keys in this service's store")
    prefix: str | None = Field(None, min_length=1, max_length=512, description="enroll every object under it")


class BatchForm(_BatchOptions):
    image_file: list[FileStorage] | None = Field(None, description="repeat the part once per image")
    archive: FileStorage | None = Field(None, description="a zip of images")


# ------------------------------------------------------------------ jobs


class JobErrorView(BaseModel):
    error_code: str
    error_msg: str
    error_details: dict[str, Any] | None = None


class JobView(BaseModel):
    job_id: str
    kind: str
    status: Literal["pending", "running", "succeeded", "failed"]
    progress: dict[str, int] | None = None
    result: JobResult | None = Field(None, description="the job kind's result model, once succeeded")
    error: JobErrorView | None = None
    created_at: str | None = None
    updated_at: str | None = None
    callback_url: str | None = None
    webhook: dict[str, Any] | None = Field(None, description="delivery report of the callback, once sent")


class JobAccepted(BaseModel):
    job_id: str
    status: str
    location: str


class ErrorBody(BaseModel):
    error_code: str = Field(examples=["FRS.0100"])
    error_msg: str
    error_details: dict[str, Any] | None = None


class HealthResponse(BaseModel):
    status: str
    checks: dict[str, str] | None = None
