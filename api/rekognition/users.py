"""Rekognition's users (CreateUser, DeleteUser, ListUsers, AssociateFaces, DisassociateFaces,
SearchUsers, SearchUsersByImage) on FaceFleet's persons: a face belongs to a user through
its ``user_id``; ``rekognition_users`` keeps users that have no face yet. Searches are the
native search grouped by person."""

from __future__ import annotations

from typing import Any

from api.jobs import ResultT
from api.rekognition.calls import Call
from api.rekognition.faces import QUALITY_FILTERS, request_image, run_search
from api.rekognition.protocol import (
    ErrorType,
    RekognitionError,
    decode_token,
    encode_token,
    finished,
    invalid,
    not_found,
)
from api.rekognition.render import face_detail, similarity
from core.jobs import JobKind
from core.payloads import SearchPayload, UpdateFacePayload
from core.results import Match, SearchResult, UpdateFaceResult

MAX_USER_ID = 128
MAX_ASSOCIATE_FACES = 100
MAX_LIST_USERS = 500
DEFAULT_LIST_USERS = 100
MAX_USERS = 500
DEFAULT_MAX_USERS = 100
# Nearest faces looked at when AssociateFaces checks a face against the user's faces.
MATCH_CANDIDATES = 100
# A user's faces searched on its behalf by SearchUsers with a UserId.
MAX_PROBE_FACES = 10
ACTIVE = "ACTIVE"


def _user_id(call: Call) -> str:
    return call.params.required_identifier("UserId", MAX_USER_ID)


def _existing_user(call: Call, face_set_id: str, user_id: str) -> None:
    if not call.rekognition.users.exists(face_set_id, user_id):
        raise not_found(f"The user id: {user_id} does not exist")


def create_user(call: Call) -> dict[str, Any]:
    face_set = call.face_set(call.collection())
    user_id = _user_id(call)
    call.params.string("ClientRequestToken", max_length=64)
    if not call.rekognition.users.add(call.project_id, face_set.id, user_id):
        raise RekognitionError(ErrorType.CONFLICT, f"The user id: {user_id} already exists")
    return {}


def delete_user(call: Call) -> dict[str, Any]:
    face_set = call.face_set(call.collection())
    user_id = _user_id(call)
    call.params.string("ClientRequestToken", max_length=64)
    _existing_user(call, face_set.id, user_id)
    owned = [face.face_id for face in call.api.faces.find_by_user_id(call.project_id, face_set.id, user_id)]
    _set_user(call, face_set, owned, "")
    call.rekognition.users.remove(face_set.id, user_id)
    return {}


def list_users(call: Call) -> dict[str, Any]:
    face_set = call.face_set(call.collection())
    limit = call.params.integer("MaxResults", DEFAULT_LIST_USERS, 1, MAX_LIST_USERS) or DEFAULT_LIST_USERS
    after = decode_token(call.params.string("NextToken", max_length=2048))
    user_ids = call.rekognition.users.page(face_set.id, after, limit + 1)
    page = user_ids[:limit]
    body: dict[str, Any] = {"Users": [{"UserId": user_id, "UserStatus": ACTIVE} for user_id in page]}
    if len(user_ids) > limit:
        body["NextToken"] = encode_token(page[-1])
    return body


def _run_side_by_side(call: Call, kind: JobKind, payloads: list[Any], model: type[ResultT]) -> list[ResultT]:
    """Every job sent first, then each waited for, all within one sync deadline."""
    outcomes = call.api.gateway.run_all(call.project_id, kind, payloads)
    return [finished(outcome, model) for outcome in outcomes]


def _set_user(call: Call, face_set: Any, face_ids: list[str], user_id: str) -> None:
    """Sets (or with "" clears) the user of every face."""
    payloads = [
        UpdateFacePayload(
            project_id=call.project_id, face_set_id=face_set.id, face_id=face_id, user_id=user_id
        )
        for face_id in face_ids
    ]
    _run_side_by_side(call, JobKind.UPDATE_FACE, payloads, UpdateFaceResult)


def _similarity_to_faces(call: Call, face_set: Any, face_ids: list[str], owned: set[str]) -> dict[str, float]:
    """Each face's best similarity to any of ``owned`` (0 when none is among its nearest)."""
    payloads = [
        SearchPayload(
            project_id=call.project_id, face_set_id=face_set.id, face_id=face_id, top_n=MATCH_CANDIDATES
        )
        for face_id in face_ids
    ]
    best: dict[str, float] = {}
    results = _run_side_by_side(call, JobKind.SEARCH, payloads, SearchResult)
    for face_id, result in zip(face_ids, results, strict=True):
        scores = [
            similarity(hit.distance, call.match_distance)
            for hit in result.faces or []
            if hit.face_id in owned
        ]
        best[face_id] = max(scores, default=0.0)
    return best


def associate_faces(call: Call) -> dict[str, Any]:
    face_set = call.face_set(call.collection())
    user_id = _user_id(call)
    face_ids = call.params.string_list("FaceIds", required=True, max_items=MAX_ASSOCIATE_FACES)
    threshold = call.params.number("UserMatchThreshold", 75.0, 0.0, 100.0)
    call.params.string("ClientRequestToken", max_length=64)
    _existing_user(call, face_set.id, user_id)
    found = call.api.faces.get_many(call.project_id, face_set.id, face_ids)
    associated: list[str] = []
    unsuccessful: list[dict[str, Any]] = []
    for face_id in dict.fromkeys(face_ids):
        face = found.get(face_id)
        if face is None:
            unsuccessful.append({"FaceId": face_id, "Reasons": ["FACE_NOT_FOUND"]})
        elif face.user_id and face.user_id != user_id:
            unsuccessful.append(
                {"FaceId": face_id, "UserId": face.user_id, "Reasons": ["ASSOCIATED_TO_A_DIFFERENT_USER"]}
            )
        else:
            associated.append(face_id)
    new = [face_id for face_id in associated if found[face_id].user_id != user_id]
    owned = {face.face_id for face in call.api.faces.find_by_user_id(call.project_id, face_set.id, user_id)}
    if owned and new:
        # A user that has faces takes only faces that look like them (UserMatchThreshold).
        scores = _similarity_to_faces(call, face_set, new, owned)
        for face_id in [face_id for face_id in new if scores[face_id] < threshold]:
            new.remove(face_id)
            associated.remove(face_id)
            unsuccessful.append(
                {
                    "FaceId": face_id,
                    "UserId": user_id,
                    "Confidence": scores[face_id],
                    "Reasons": ["LOW_MATCH_CONFIDENCE"],
                }
            )
    _set_user(call, face_set, new, user_id)
    return {
        "AssociatedFaces": [{"FaceId": face_id} for face_id in associated],
        "UnsuccessfulFaceAssociations": unsuccessful,
        "UserStatus": ACTIVE,
    }


def disassociate_faces(call: Call) -> dict[str, Any]:
    face_set = call.face_set(call.collection())
    user_id = _user_id(call)
    face_ids = call.params.string_list("FaceIds", required=True, max_items=MAX_ASSOCIATE_FACES)
    call.params.string("ClientRequestToken", max_length=64)
    _existing_user(call, face_set.id, user_id)
    found = call.api.faces.get_many(call.project_id, face_set.id, face_ids)
    removed, unsuccessful = [], []
    for face_id in dict.fromkeys(face_ids):
        face = found.get(face_id)
        if face is None:
            unsuccessful.append({"FaceId": face_id, "UserId": user_id, "Reasons": ["FACE_NOT_FOUND"]})
        elif face.user_id != user_id:
            unsuccessful.append(
                {"FaceId": face_id, "UserId": user_id, "Reasons": ["ASSOCIATED_TO_A_DIFFERENT_USER"]}
            )
        else:
            removed.append(face_id)
    _set_user(call, face_set, removed, "")
    return {
        "DisassociatedFaces": [{"FaceId": face_id} for face_id in removed],
        "UnsuccessfulFaceDisassociations": unsuccessful,
        "UserStatus": ACTIVE,
    }


def _user_matches(
    call: Call, face_set: Any, hits: list[Match], threshold: float, limit: int, exclude: str | None
) -> list[dict[str, Any]]:
    """Best similarity per user among ``hits`` (faces without a user are no user match)."""
    best: dict[str, float] = {}
    for hit in hits:
        user_id = hit.user_id
        if not user_id or user_id == exclude:
            continue
        score = similarity(hit.distance, call.match_distance)
        best[user_id] = max(best.get(user_id, 0.0), score)
    ranked = sorted(((score, user_id) for user_id, score in best.items() if score >= threshold), reverse=True)
    return [
        {"Similarity": score, "User": {"UserId": user_id, "UserStatus": ACTIVE}}
        for score, user_id in ranked[:limit]
    ]


def search_users(call: Call) -> dict[str, Any]:
    face_set = call.face_set(call.collection())
    params = call.params
    user_id = params.identifier("UserId", required=False, max_length=MAX_USER_ID)
    face_id = params.string("FaceId", max_length=64)
    if (user_id is None) == (face_id is None):
        raise invalid("give exactly one of UserId and FaceId")
    threshold = params.number("UserMatchThreshold", 80.0, 0.0, 100.0)
    max_users = params.integer("MaxUsers", DEFAULT_MAX_USERS, 1, MAX_USERS) or DEFAULT_MAX_USERS
    body: dict[str, Any] = {}
    if face_id is not None:
        if call.api.faces.get(call.project_id, face_set.id, face_id) is None:
            raise invalid(f"FaceId {face_id} is not in the collection")
        probes = [face_id]
        body["SearchedFace"] = {"FaceId": face_id}
    else:
        assert user_id is not None
        _existing_user(call, face_set.id, user_id)
        probes = [
            face.face_id for face in call.api.faces.find_by_user_id(call.project_id, face_set.id, user_id)
        ][:MAX_PROBE_FACES]
        body["SearchedUser"] = {"UserId": user_id}
    payloads = [
        SearchPayload(
            project_id=call.project_id,
            face_set_id=face_set.id,
            face_id=probe,
            top_n=max_users + 1,
            group_by="person",
        )
        for probe in probes
    ]
    hits = [
        hit
        for result in _run_side_by_side(call, JobKind.SEARCH, payloads, SearchResult)
        for hit in result.faces or []
    ]
    body["UserMatches"] = _user_matches(call, face_set, hits, threshold, max_users, exclude=user_id)
    body["FaceModelVersion"] = call.model_version
    return body


def search_users_by_image(call: Call) -> dict[str, Any]:
    face_set = call.face_set(call.collection())
    params = call.params
    threshold = params.number("UserMatchThreshold", 80.0, 0.0, 100.0)
    max_users = params.integer("MaxUsers", DEFAULT_MAX_USERS, 1, MAX_USERS) or DEFAULT_MAX_USERS
    params.choice("QualityFilter", QUALITY_FILTERS, "NONE")
    image = request_image(call)
    result = run_search(call, face_set, image_key=image.key, face_id=None, top_n=max_users, group_by="person")
    body: dict[str, Any] = {
        "UserMatches": _user_matches(call, face_set, result.faces or [], threshold, max_users, exclude=None),
        "FaceModelVersion": call.model_version,
    }
    searched = result.searched_face
    if searched is not None:
        body["SearchedFace"] = {"FaceDetail": face_detail(searched, image.width, image.height)}
    body["UnsearchedFaces"] = [
        {"FaceDetails": face_detail(face, image.width, image.height), "Reasons": ["FACE_NOT_LARGEST"]}
        for face in result.unsearched_faces or []
    ]
    return body
