"""Request and response models of the persons endpoints, the admin API and the webhook settings."""

from __future__ import annotations

from pydantic import BaseModel, Field

from api.request_models import RequestParameters
from api.schemas import USER_ID_PATTERN, FaceSetPath, ProjectPath, Strict
from core.results import ErasedFromFaceSet, ErasureCheck, StoredFace

KEY_NAME_PATTERN = r"^[A-Za-z0-9 _.@:-]{1,128}$"


class PersonPath(FaceSetPath):
    user_id: str = Field(pattern=USER_ID_PATTERN)


class ProjectPersonPath(ProjectPath):
    user_id: str = Field(pattern=USER_ID_PATTERN)


class PageQuery(RequestParameters):
    offset: int = Field(0, ge=0, le=10_000_000)
    limit: int = Field(100, ge=1, le=1000)


class PersonSummary(BaseModel):
    user_id: str
    face_count: int


class PersonListResponse(BaseModel):
    face_set_id: str
    face_set_name: str
    persons: list[PersonSummary]
    total: int


class PersonResponse(BaseModel):
    face_set_id: str
    face_set_name: str
    user_id: str
    face_count: int
    faces: list[StoredFace]


class PersonDeleted(BaseModel):
    user_id: str
    deleted_faces: int
    face_sets: list[ErasedFromFaceSet]
    verified: ErasureCheck


# ------------------------------------------------------------------ admin


class AdminProjectPath(BaseModel):
    project_id: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")


class AdminKeyPath(AdminProjectPath):
    key_id: str = Field(pattern=r"^[A-Za-z0-9]{1,64}$")


class ProjectCreate(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,128}$")


class KeyCreate(Strict):
    name: str | None = Field(None, pattern=KEY_NAME_PATTERN, description="what the key is for, e.g. 'billing-2026-12'")


class ApiKeyInfo(BaseModel):
    key_id: str
    name: str | None
    created_at: str
    last_used_at: str | None
    revoked_at: str | None


class ApiKeyIssued(ApiKeyInfo):
    key: str = Field(description="the whole key; shown once, only its hash is stored")


class ApiKeyList(BaseModel):
    project_id: str
    keys: list[ApiKeyInfo]


class ProjectInfo(BaseModel):
    project_id: str
    name: str
    created_at: str


class ProjectList(BaseModel):
    projects: list[ProjectInfo]


class ProjectCreated(ProjectInfo):
    api_key: ApiKeyIssued
    webhook_secret: str = Field(description="signs this project's callbacks; shown once here")


# ------------------------------------------------------------------ webhook settings


class WebhookSettingsUpdate(Strict):
    callback_url: str | None = Field(
        ..., max_length=2048, description="where callbacks of async jobs that name none go; null clears it"
    )


class WebhookSettingsView(BaseModel):
    callback_url: str | None
    signature_header: str
    signature_tolerance_seconds: int


class WebhookSecretRotated(BaseModel):
    webhook_secret: str = Field(description="the new signing secret, shown once; the old one stops at once")
