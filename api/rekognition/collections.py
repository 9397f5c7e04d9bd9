"""CreateCollection, DescribeCollection, ListCollections and DeleteCollection.

A collection is a face set of the caller's project. Its native name is fresh per creation
(``rk-<random>``) and the Rekognition id lives in ``rekognition_collections``, so any id the
AWS reference allows works, and an id is free again as soon as its collection is deleted.
"""

from __future__ import annotations

import uuid
from typing import Any

from api.rekognition.calls import Call
from api.rekognition.protocol import ErrorType, RekognitionError, decode_token, encode_token
from core.errors import DomainError, ErrorCode
from infra.db.errors import DuplicateName

MAX_LIST_RESULTS = 4096
DEFAULT_LIST_RESULTS = 1000  # AWS returns up to 1000 per page by default
NATIVE_NAME_PREFIX = "rk-"


def create_collection(call: Call) -> dict[str, Any]:
    collection_id = call.params.required_identifier("CollectionId")
    if call.rekognition.collections.get(call.project_id, collection_id) is not None:
        raise RekognitionError(
            ErrorType.RESOURCE_EXISTS, f"The collection id: {collection_id} already exists"
        )
    # The raw descriptor (FaceModelVersion and the similarity scale are the worker model's).
    face_set = call.api.service.create_face_set(
        call.project_id, NATIVE_NAME_PREFIX + uuid.uuid4().hex, None, {}, call.api.settings.pipeline.embedding_model
    )
    try:
        call.rekognition.collections.add(call.project_id, collection_id, face_set.id)
    except DuplicateName as raced:
        call.api.service.delete_face_set(call.project_id, face_set.name, wait=False, idempotency_key=None)
        raise RekognitionError(
            ErrorType.RESOURCE_EXISTS, f"The collection id: {collection_id} already exists"
        ) from raced
    return {
        "StatusCode": 200,
        "CollectionArn": call.collection_arn(collection_id),
        "FaceModelVersion": call.model_version,
    }


def describe_collection(call: Call) -> dict[str, Any]:
    row = call.collection()
    face_set = call.face_set(row)
    users = call.rekognition.users.count(face_set.id)
    return {
        "FaceCount": int(face_set.face_count or 0),
        "FaceModelVersion": call.model_version,
        "CollectionARN": call.collection_arn(row.collection_id),
        "CreationTimestamp": row.created_at.timestamp(),
        "UserCount": users,
    }


def list_collections(call: Call) -> dict[str, Any]:
    limit = (
        call.params.integer("MaxResults", DEFAULT_LIST_RESULTS, 0, MAX_LIST_RESULTS) or DEFAULT_LIST_RESULTS
    )
    after = decode_token(call.params.string("NextToken", max_length=2048))
    rows = call.rekognition.collections.page(call.project_id, after, limit + 1)
    page = rows[:limit]
    body: dict[str, Any] = {
        "CollectionIds": [row.collection_id for row in page],
        "FaceModelVersions": [call.model_version for _ in page],
    }
    if len(rows) > limit:
        body["NextToken"] = encode_token(page[-1].collection_id)
    return body


def delete_collection(call: Call) -> dict[str, Any]:
    collection_id = call.params.required_identifier("CollectionId")
    mapped = call.rekognition.collections.get(call.project_id, collection_id)
    if mapped is None:
        raise RekognitionError(
            ErrorType.RESOURCE_NOT_FOUND, f"The collection id: {collection_id} does not exist"
        )
    face_set = call.api.face_sets.get(call.project_id, mapped.face_set_id)
    if face_set is not None:
        try:
            # The face set first: if its delete job cannot be queued, the collection is still
            # there for the client's retry. Waited for (bounded); a job still running at the
            # deadline has marked the face set deleting and finishes in the background.
            call.api.service.delete_face_set(call.project_id, face_set.name, wait=True, idempotency_key=None)
        except DomainError as gone:
            if gone.code is not ErrorCode.FACE_SET_NOT_FOUND:  # not merely deleted meanwhile
                raise
    if call.rekognition.collections.remove(call.project_id, collection_id) is None:
        raise RekognitionError(
            ErrorType.RESOURCE_NOT_FOUND, f"The collection id: {collection_id} does not exist"
        )  # a concurrent DeleteCollection got there first
    return {"StatusCode": 200}
