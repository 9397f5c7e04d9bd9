"""What every Rekognition operation gets: the caller's project, its parameters, and the
repositories of the Rekognition tables beside the shared ``ApiContext``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from api.context import ApiContext, current_context
from api.rekognition.protocol import Params, not_found
from api.rekognition.render import face_model_version
from infra.db.rekognition import AccessKeyRepo, CollectionRepo, CollectionRow, ImageSizeRepo, UserRepo
from infra.object_store.source_buckets import SourceBuckets

EXTENSION_KEY = "facefleet_rekognition"


@dataclass
class RekognitionContext:
    api: ApiContext
    access_keys: AccessKeyRepo = field(init=False)
    collections: CollectionRepo = field(init=False)
    users: UserRepo = field(init=False)
    image_sizes: ImageSizeRepo = field(init=False)
    sources: SourceBuckets = field(init=False)

    def __post_init__(self) -> None:
        settings = self.api.settings
        database = self.api.database
        keys = [key.get_secret_value() for key in settings.rekognition.encryption_keys]
        self.access_keys = AccessKeyRepo(database, keys)
        self.collections = CollectionRepo(database)
        self.users = UserRepo(database)
        self.image_sizes = ImageSizeRepo(database)
        self.sources = SourceBuckets(settings)


def rekognition_context() -> RekognitionContext:
    extensions = current_app.extensions
    if EXTENSION_KEY not in extensions:
        extensions[EXTENSION_KEY] = RekognitionContext(current_context())
    context: RekognitionContext = extensions[EXTENSION_KEY]
    return context


@dataclass
class Call:
    project_id: str
    region: str
    params: Params
    rekognition: RekognitionContext

    @property
    def api(self) -> ApiContext:
        return self.rekognition.api

    @property
    def model_version(self) -> str:
        return face_model_version(self.api.settings.pipeline.embedding_model)

    @property
    def match_distance(self) -> float:
        pipeline = self.api.settings.pipeline
        configured = pipeline.match_distance
        return float(pipeline.dlib_resnet_v1_match_distance if configured is None else configured)

    def collection(self, collection_id: str | None = None) -> CollectionRow:
        """The collection named by ``CollectionId`` in the caller's project (another
        project's collection is not found, exactly like a missing one)."""
        wanted = collection_id or self.params.required_identifier("CollectionId")
        row = self.rekognition.collections.get(self.project_id, wanted)
        if row is None or self.api.face_sets.get(self.project_id, row.face_set_id) is None:
            raise not_found(f"The collection id: {wanted} does not exist")
        return row

    def face_set(self, row: CollectionRow) -> Any:
        face_set = self.api.face_sets.get(self.project_id, row.face_set_id)
        if face_set is None:
            raise not_found(f"The collection id: {row.collection_id} does not exist")
        return face_set

    def collection_arn(self, collection_id: str) -> str:
        return f"arn:facefleet:rekognition:{self.region}:{self.project_id}:collection/{collection_id}"
