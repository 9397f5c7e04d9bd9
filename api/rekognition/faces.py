"""IndexFaces, ListFaces, DeleteFaces, SearchFaces, SearchFacesByImage, CompareFaces and
DetectFaces: each one job (or none) on the shared gateway, rendered in Rekognition's shape."""

from __future__ import annotations

import secrets
from typing import Any

from api.rekognition.calls import Call
from api.rekognition.images import StoredImage, stored_image
from api.rekognition.protocol import finished, invalid, offset_of, offset_token
from api.rekognition.render import UNNAMED_PREFIX, box_detail, face_detail, image_id, similarity, stored_face
from core.errors import ErrorCode
from core.jobs import JobKind
from core.payloads import ComparePayload, DetectPayload, EnrollOptions
from core.results import (
    ComparedFace,
    CompareResult,
    DeleteFacesResult,
    DetectResult,
    EnrollResult,
    Match,
    SearchResult,
)

MAX_INDEX_FACES = 100  # Rekognition indexes at most 100 faces per image
MAX_SEARCH_FACES = 1000  # FaceFleet's candidate limit per search (AWS allows 4096)
DEFAULT_SEARCH_FACES = 100
MAX_LIST_FACES = 4096
DEFAULT_LIST_FACES = 1000
MAX_FACE_IDS = 4096
QUALITY_FILTERS = ("NONE", "AUTO", "LOW", "MEDIUM", "HIGH")
DETECTION_ATTRIBUTES = ("DEFAULT", "ALL")
# Seed attribute codes of the analyzer: 0 head pose, 1 gender, 2 age, 5 smile.
DEFAULT_ATTRIBUTE_CODES = [0]
ALL_ATTRIBUTE_CODES = [0, 1, 2, 5]
UNINDEXED_REASONS = {
    "blurry": "LOW_SHARPNESS",
    "dark": "LOW_BRIGHTNESS",
    "bright": "LOW_BRIGHTNESS",
    "small": "SMALL_BOUNDING_BOX",
    "extreme_pose": "EXTREME_POSE",
    "wrong_direction": "EXTREME_POSE",
    "exceeds_max_faces": "EXCEEDS_MAX_FACES",
}


def request_image(call: Call, member: str = "Image") -> StoredImage:
    return stored_image(call.params.object(member, required=True), member, call.rekognition.sources)


def _threshold(call: Call, name: str) -> float:
    return call.params.number(name, 80.0, 0.0, 100.0)


# ---------------------------------------------------------------------------- IndexFaces


def index_faces(call: Call) -> dict[str, Any]:
    row = call.collection()
    face_set = call.face_set(row)
    params = call.params
    external = params.identifier("ExternalImageId", required=False)
    max_faces = params.integer("MaxFaces", MAX_INDEX_FACES, 1, MAX_INDEX_FACES)
    quality_filter = params.choice("QualityFilter", QUALITY_FILTERS, "AUTO")
    attributes = params.string_list(
        "DetectionAttributes", required=False, max_items=2, allowed=DETECTION_ATTRIBUTES
    )
    full = "ALL" in attributes
    image = request_image(call)
    call.rekognition.image_sizes.remember(image.key, image.width, image.height)
    options = EnrollOptions(
        select="all",
        quality_gate=quality_filter != "NONE",
        max_faces=max_faces,
        report_unindexed=True,
        detail_attributes=ALL_ATTRIBUTE_CODES if full else DEFAULT_ATTRIBUTE_CODES,
    )
    outcome = call.api.service.add_faces(
        call.project_id,
        face_set.name,
        image.key,
        external_image_id=external or UNNAMED_PREFIX + secrets.token_hex(8),
        external_fields={},
        user_id=None,
        options=options,
        wait=True,
        idempotency_key=None,
    )
    if outcome.finished and outcome.job.error_code == ErrorCode.NO_FACE.value:
        return {"FaceRecords": [], "FaceModelVersion": call.model_version, "UnindexedFaces": []}
    result = finished(outcome, EnrollResult)
    records = []
    for face in result.faces:
        detail = face_detail(face, image.width, image.height, full=full)
        record_face: dict[str, Any] = {
            "FaceId": face.face_id,
            "BoundingBox": detail["BoundingBox"],
            "ImageId": image_id(image.key),
            "Confidence": detail.get("Confidence"),
            "IndexFacesModelVersion": call.model_version,
        }
        if external is not None:
            record_face["ExternalImageId"] = external
        records.append({"Face": record_face, "FaceDetail": detail})
    unindexed = [
        {
            "Reasons": sorted({UNINDEXED_REASONS.get(reason, "LOW_FACE_QUALITY") for reason in face.reasons}),
            "FaceDetail": box_detail(face, image.width, image.height),
        }
        for face in result.unindexed or []
    ]
    return {"FaceRecords": records, "FaceModelVersion": call.model_version, "UnindexedFaces": unindexed}


# ---------------------------------------------------------------------------- ListFaces / DeleteFaces


def list_faces(call: Call) -> dict[str, Any]:
    row = call.collection()
    face_set = call.face_set(row)
    params = call.params
    limit = params.integer("MaxResults", DEFAULT_LIST_FACES, 0, MAX_LIST_FACES) or DEFAULT_LIST_FACES
    offset = offset_of(params.string("NextToken", max_length=2048))
    user_id = params.identifier("UserId", required=False, max_length=128)
    face_ids = set(params.string_list("FaceIds", required=False, max_items=MAX_FACE_IDS))
    faces = call.api.faces
    if user_id is not None or face_ids:
        # Filtered listings are small (one user's faces, named faces): filter in full, then page.
        if user_id is not None:
            rows = list(faces.find_by_user_id(call.project_id, face_set.id, user_id))
        else:
            rows = list(faces.get_many(call.project_id, face_set.id, sorted(face_ids)).values())
        if face_ids:
            rows = [face for face in rows if face.face_id in face_ids]
        rows.sort(key=lambda face: (face.created_at, face.face_id))
        page, more = rows[offset : offset + limit], len(rows) > offset + limit
    else:
        fetched = list(faces.list(call.project_id, face_set.id, offset=offset, limit=limit + 1))
        page, more = fetched[:limit], len(fetched) > limit
    sizes = call.rekognition.image_sizes.sizes([face.image_key for face in page])
    body: dict[str, Any] = {
        "Faces": [stored_face(face, sizes.get(face.image_key), call.model_version) for face in page],
        "FaceModelVersion": call.model_version,
    }
    if more:
        body["NextToken"] = offset_token(offset + limit)
    return body


def delete_faces(call: Call) -> dict[str, Any]:
    row = call.collection()
    face_set = call.face_set(row)
    face_ids = call.params.string_list("FaceIds", required=True, max_items=MAX_FACE_IDS)
    found = call.api.faces.get_many(call.project_id, face_set.id, face_ids)
    unsuccessful: list[dict[str, Any]] = []
    deletable: list[str] = []
    for face_id in dict.fromkeys(face_ids):
        face = found.get(face_id)
        if face is None:
            unsuccessful.append({"FaceId": face_id, "Reasons": ["FACE_NOT_FOUND"]})
        elif face.user_id:
            unsuccessful.append(
                {"FaceId": face_id, "UserId": face.user_id, "Reasons": ["ASSOCIATED_TO_AN_EXISTING_USER"]}
            )
        else:
            deletable.append(face_id)
    if deletable:
        finished(
            call.api.service.delete_faces(
                call.project_id, face_set, deletable, wait=True, idempotency_key=None
            ),
            DeleteFacesResult,
        )
    body: dict[str, Any] = {"DeletedFaces": deletable}
    if unsuccessful:
        body["UnsuccessfulFaceDeletions"] = unsuccessful
    return body


# ---------------------------------------------------------------------------- search


def run_search(
    call: Call,
    face_set: Any,
    *,
    image_key: str | None,
    face_id: str | None,
    top_n: int,
    group_by: str = "face",
) -> SearchResult:
    outcome = call.api.service.search(
        call.project_id,
        face_set.name,
        image_key=image_key,
        face_id=face_id,
        options={"top_n": top_n, "group_by": group_by, "show_probe_faces": image_key is not None},
        wait=True,
        idempotency_key=None,
        face_set=face_set,
    )
    return finished(outcome, SearchResult)


def face_matches(call: Call, face_set: Any, matches: list[Match], threshold: float) -> list[dict[str, Any]]:
    """Native search hits as ``FaceMatches``: those at or above ``threshold``, best first."""
    scored = [(similarity(match.distance, call.match_distance), match) for match in matches]
    kept = [(score, match) for score, match in scored if score >= threshold]
    rows = call.api.faces.get_many(call.project_id, face_set.id, [match.face_id for _, match in kept])
    sizes = call.rekognition.image_sizes.sizes([row.image_key for row in rows.values()])
    return [
        {
            "Similarity": score,
            "Face": stored_face(
                rows[match.face_id], sizes.get(rows[match.face_id].image_key), call.model_version
            ),
        }
        for score, match in kept
        if match.face_id in rows
    ]


def search_faces(call: Call) -> dict[str, Any]:
    row = call.collection()
    face_set = call.face_set(row)
    face_id = call.params.string("FaceId", required=True, max_length=64)
    assert face_id is not None
    max_faces = (
        call.params.integer("MaxFaces", DEFAULT_SEARCH_FACES, 1, MAX_SEARCH_FACES) or DEFAULT_SEARCH_FACES
    )
    threshold = _threshold(call, "FaceMatchThreshold")
    if call.api.faces.get(call.project_id, face_set.id, face_id) is None:
        raise invalid(f"FaceId {face_id} is not in collection {row.collection_id}")
    # One more than asked: the query face itself is always its own best hit, and never shown.
    result = run_search(call, face_set, image_key=None, face_id=face_id, top_n=max_faces + 1)
    others = [match for match in result.faces or [] if match.face_id != face_id][:max_faces]
    return {
        "SearchedFaceId": face_id,
        "FaceMatches": face_matches(call, face_set, others, threshold),
        "FaceModelVersion": call.model_version,
    }


def search_faces_by_image(call: Call) -> dict[str, Any]:
    row = call.collection()
    face_set = call.face_set(row)
    max_faces = (
        call.params.integer("MaxFaces", DEFAULT_SEARCH_FACES, 1, MAX_SEARCH_FACES) or DEFAULT_SEARCH_FACES
    )
    threshold = _threshold(call, "FaceMatchThreshold")
    call.params.choice("QualityFilter", QUALITY_FILTERS, "NONE")
    image = request_image(call)
    result = run_search(call, face_set, image_key=image.key, face_id=None, top_n=max_faces)
    searched = result.searched_face
    body: dict[str, Any] = {"FaceMatches": face_matches(call, face_set, result.faces or [], threshold)}
    if searched is not None:
        detail = box_detail(searched, image.width, image.height)
        body["SearchedFaceBoundingBox"] = detail["BoundingBox"]
        body["SearchedFaceConfidence"] = detail.get("Confidence")
    body["FaceModelVersion"] = call.model_version
    return body


# ---------------------------------------------------------------------------- CompareFaces / DetectFaces


def compare_faces(call: Call) -> dict[str, Any]:
    threshold = _threshold(call, "SimilarityThreshold")
    call.params.choice("QualityFilter", QUALITY_FILTERS, "NONE")
    source = request_image(call, "SourceImage")
    target = request_image(call, "TargetImage")
    outcome = call.api.gateway.run(
        call.project_id,
        JobKind.COMPARE,
        ComparePayload(image1_key=source.key, image2_key=target.key, all_targets=True),
        wait=True,
    )
    result = finished(outcome, CompareResult)
    matches, unmatched = [], []
    for face in sorted(result.image2_faces or [], key=lambda f: f.distance):
        score = similarity(face.distance, call.match_distance)
        compared = _compared_face(face, target)
        if score >= threshold:
            matches.append({"Similarity": score, "Face": compared})
        else:
            unmatched.append(compared)
    return {
        "SourceImageFace": box_detail(result.image1_face, source.width, source.height),
        "FaceMatches": matches,
        "UnmatchedFaces": unmatched,
    }


def _compared_face(face: ComparedFace, image: StoredImage) -> dict[str, Any]:
    detail = face_detail(face, image.width, image.height)
    return {name: detail[name] for name in ("BoundingBox", "Confidence", "Landmarks") if name in detail}


def detect_faces(call: Call) -> dict[str, Any]:
    attributes = call.params.string_list(
        "Attributes", required=False, max_items=2, allowed=DETECTION_ATTRIBUTES
    )
    full = "ALL" in attributes
    image = request_image(call)
    payload = DetectPayload(
        image_key=image.key, attributes=ALL_ATTRIBUTE_CODES if full else DEFAULT_ATTRIBUTE_CODES, quality=True
    )
    result = finished(call.api.gateway.run(call.project_id, JobKind.DETECT, payload, wait=True), DetectResult)
    return {"FaceDetails": [face_detail(face, image.width, image.height, full=full) for face in result.faces]}
