"""Rekognition's users API on FaceFleet persons, through real boto3."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.rekognition.conftest import HOPKINS, ROB, TWO_PEOPLE, RekognitionService, image, photo
from tests.support.photos import FACES

pytestmark = [pytest.mark.integration, pytest.mark.model]


def error_code(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return str(raised.value.response["Error"]["Code"])


def face_id(rek: Any, collection: str, path: Any) -> str:
    return str(
        rek.index_faces(CollectionId=collection, Image=image(path))["FaceRecords"][0]["Face"]["FaceId"]
    )


def test_users_lifecycle_and_search(rek: Any, collection: str) -> None:
    rob = [face_id(rek, collection, photo(ROB, index)) for index in (0, 1)]
    hopkins = face_id(rek, collection, photo(HOPKINS, 0))
    rek.create_user(CollectionId=collection, UserId="rob.lowe")
    rek.create_user(CollectionId=collection, UserId="anthony:hopkins")
    assert error_code(rek.create_user, CollectionId=collection, UserId="rob.lowe") == "ConflictException"

    associated = rek.associate_faces(CollectionId=collection, UserId="rob.lowe", FaceIds=[*rob, "nosuchface"])
    assert sorted(face["FaceId"] for face in associated["AssociatedFaces"]) == sorted(rob)
    assert associated["UnsuccessfulFaceAssociations"] == [
        {"FaceId": "nosuchface", "Reasons": ["FACE_NOT_FOUND"]}
    ]
    assert associated["UserStatus"] == "ACTIVE"
    rek.associate_faces(CollectionId=collection, UserId="anthony:hopkins", FaceIds=[hopkins])
    # A user with faces takes no face that does not look like them.
    stranger = face_id(rek, collection, FACES / "face_recognition-obama" / "obama_small.jpg")
    refused = rek.associate_faces(CollectionId=collection, UserId="rob.lowe", FaceIds=[stranger])
    assert refused["AssociatedFaces"] == []
    assert refused["UnsuccessfulFaceAssociations"][0]["Reasons"] == ["LOW_MATCH_CONFIDENCE"]
    assert refused["UnsuccessfulFaceAssociations"][0]["Confidence"] < 75
    rek.delete_faces(CollectionId=collection, FaceIds=[stranger])
    taken = rek.associate_faces(CollectionId=collection, UserId="anthony:hopkins", FaceIds=[rob[0]])
    assert taken["UnsuccessfulFaceAssociations"][0]["Reasons"] == ["ASSOCIATED_TO_A_DIFFERENT_USER"]

    listed = rek.list_faces(CollectionId=collection, UserId="rob.lowe")["Faces"]
    assert sorted(face["FaceId"] for face in listed) == sorted(rob)
    assert {face["UserId"] for face in listed} == {"rob.lowe"}
    pages = list(
        rek.get_paginator("list_users").paginate(CollectionId=collection, PaginationConfig={"PageSize": 1})
    )
    assert [user["UserId"] for page in pages for user in page["Users"]] == ["anthony:hopkins", "rob.lowe"]
    assert rek.describe_collection(CollectionId=collection)["UserCount"] == 2

    by_image = rek.search_users_by_image(CollectionId=collection, Image=image(photo(ROB, 1)))
    assert [match["User"]["UserId"] for match in by_image["UserMatches"]] == ["rob.lowe"]
    assert by_image["UserMatches"][0]["Similarity"] > 80
    assert "BoundingBox" in by_image["SearchedFace"]["FaceDetail"]
    assert by_image["UnsearchedFaces"] == []
    by_face = rek.search_users(CollectionId=collection, FaceId=rob[1])
    assert [match["User"]["UserId"] for match in by_face["UserMatches"]] == ["rob.lowe"]
    assert by_face["SearchedFace"] == {"FaceId": rob[1]}
    by_user = rek.search_users(CollectionId=collection, UserId="rob.lowe", UserMatchThreshold=0)
    assert "rob.lowe" not in {match["User"]["UserId"] for match in by_user["UserMatches"]}
    assert [match["User"]["UserId"] for match in by_user["UserMatches"]] == ["anthony:hopkins"]
    assert by_user["UserMatches"][0]["Similarity"] < 80

    # A face with a user cannot be deleted until it is disassociated.
    blocked = rek.delete_faces(CollectionId=collection, FaceIds=[rob[0]])
    assert blocked["DeletedFaces"] == []
    assert blocked["UnsuccessfulFaceDeletions"][0]["Reasons"] == ["ASSOCIATED_TO_AN_EXISTING_USER"]
    removed = rek.disassociate_faces(CollectionId=collection, UserId="rob.lowe", FaceIds=[rob[0], hopkins])
    assert removed["DisassociatedFaces"] == [{"FaceId": rob[0]}]
    assert removed["UnsuccessfulFaceDisassociations"][0]["Reasons"] == ["ASSOCIATED_TO_A_DIFFERENT_USER"]
    assert [
        face["FaceId"] for face in rek.list_faces(CollectionId=collection, UserId="rob.lowe")["Faces"]
    ] == [rob[1]]
    assert rek.delete_faces(CollectionId=collection, FaceIds=[rob[0]])["DeletedFaces"] == [rob[0]]

    rek.delete_user(CollectionId=collection, UserId="rob.lowe")
    assert (
        error_code(rek.delete_user, CollectionId=collection, UserId="rob.lowe") == "ResourceNotFoundException"
    )
    assert rek.list_faces(CollectionId=collection, UserId="rob.lowe")["Faces"] == []
    assert [user["UserId"] for user in rek.list_users(CollectionId=collection)["Users"]] == [
        "anthony:hopkins"
    ]
    assert error_code(rek.associate_faces, CollectionId=collection, UserId="rob.lowe", FaceIds=[rob[1]]) == (
        "ResourceNotFoundException"
    )


def test_search_users_by_image_reports_the_other_faces(rek: Any, collection: str) -> None:
    kit = min((FACES / "face_recognition-kit_harington").iterdir())
    kit_face = face_id(rek, collection, kit)
    rek.create_user(CollectionId=collection, UserId="kit")
    rek.associate_faces(CollectionId=collection, UserId="kit", FaceIds=[kit_face])
    result = rek.search_users_by_image(CollectionId=collection, Image=image(TWO_PEOPLE))
    assert len(result["UnsearchedFaces"]) == 1
    assert result["UnsearchedFaces"][0]["Reasons"] == ["FACE_NOT_LARGEST"]


def test_users_are_per_project(rekognition: RekognitionService, rek: Any, collection: str) -> None:
    rek.create_user(CollectionId=collection, UserId="someone")
    other = rekognition.client(rekognition.tenant_b)
    assert error_code(other.list_users, CollectionId=collection) == "ResourceNotFoundException"
    assert (
        error_code(other.create_user, CollectionId=collection, UserId="someone")
        == "ResourceNotFoundException"
    )
