"""Faces through real boto3 on the shared photos: IndexFaces, ListFaces, DeleteFaces,
SearchFaces, SearchFacesByImage, CompareFaces, DetectFaces, S3Object images."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import pytest
from botocore.exceptions import ClientError
from PIL import Image

from tests.rekognition.conftest import HOPKINS, NO_FACE, ROB, TWO_PEOPLE, RekognitionService, image, photo
from tests.support.photos import FACES

pytestmark = [pytest.mark.integration, pytest.mark.model]

FOUR_PEOPLE = FACES / "_misc" / "multi_face" / "compreface__012_4.jpg"
OBAMA = FACES / "face_recognition-obama"


def error_code(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return str(raised.value.response["Error"]["Code"])


def index(
    rek: Any, collection: str, path: Any, external: str | None = None, **options: Any
) -> dict[str, Any]:
    if external is not None:
        options["ExternalImageId"] = external
    return dict(rek.index_faces(CollectionId=collection, Image=image(path), **options))


def assert_ratio_box(box: dict[str, float]) -> None:
    assert set(box) == {"Width", "Height", "Left", "Top"}
    assert 0 < box["Width"] <= 1 and 0 < box["Height"] <= 1
    assert -0.2 <= box["Left"] < 1 and -0.2 <= box["Top"] < 1


def test_index_search_and_delete(rek: Any, collection: str) -> None:
    rob = index(rek, collection, photo(ROB, 0), external="rob:0001.jpg")
    assert len(rob["FaceRecords"]) == 1 and rob["UnindexedFaces"] == []
    face = rob["FaceRecords"][0]["Face"]
    assert face["ExternalImageId"] == "rob:0001.jpg"
    assert face["IndexFacesModelVersion"] == rob["FaceModelVersion"] == "facefleet-dlib-resnet-v1"
    assert 50 < face["Confidence"] <= 100
    assert_ratio_box(face["BoundingBox"])
    detail = rob["FaceRecords"][0]["FaceDetail"]
    assert detail["BoundingBox"] == face["BoundingBox"]
    assert {"Landmarks", "Pose", "Quality"} <= set(detail) and "Gender" not in detail
    rob_face = face["FaceId"]
    hopkins = index(rek, collection, photo(HOPKINS, 0), DetectionAttributes=["ALL"])["FaceRecords"][0]
    hopkins_face = hopkins["Face"]
    assert "ExternalImageId" not in hopkins_face  # none given, none invented
    assert hopkins["FaceDetail"]["Gender"]["Value"] == "Male" and "AgeRange" in hopkins["FaceDetail"]

    # The same person's other photo finds Rob, and only Rob.
    found = rek.search_faces_by_image(CollectionId=collection, Image=image(photo(ROB, 1)))
    assert [match["Face"]["FaceId"] for match in found["FaceMatches"]] == [rob_face]
    assert found["FaceMatches"][0]["Similarity"] > 80
    assert found["FaceMatches"][0]["Face"]["ExternalImageId"] == "rob:0001.jpg"
    assert_ratio_box(found["SearchedFaceBoundingBox"])
    assert 50 < found["SearchedFaceConfidence"] <= 100
    # A stranger's photo matches nobody at the default threshold; at 0 it sees everyone, ranked.
    stranger = rek.search_faces_by_image(CollectionId=collection, Image=image(OBAMA / "obama_small.jpg"))
    assert stranger["FaceMatches"] == []
    everyone = rek.search_faces_by_image(
        CollectionId=collection, Image=image(OBAMA / "obama_small.jpg"), FaceMatchThreshold=0
    )["FaceMatches"]
    assert len(everyone) == 2
    assert everyone[0]["Similarity"] >= everyone[1]["Similarity"] and all(
        m["Similarity"] < 80 for m in everyone
    )

    # SearchFaces never returns the query face itself.
    rob_again = index(rek, collection, photo(ROB, 1), external="rob-2")["FaceRecords"][0]["Face"]["FaceId"]
    by_id = rek.search_faces(CollectionId=collection, FaceId=rob_face)
    assert by_id["SearchedFaceId"] == rob_face
    assert [match["Face"]["FaceId"] for match in by_id["FaceMatches"]] == [rob_again]
    everyone_else = rek.search_faces(
        CollectionId=collection, FaceId=rob_face, FaceMatchThreshold=0, MaxFaces=10
    )
    assert rob_face not in {match["Face"]["FaceId"] for match in everyone_else["FaceMatches"]}
    assert len(everyone_else["FaceMatches"]) == 2
    assert (
        error_code(rek.search_faces, CollectionId=collection, FaceId="nosuchface")
        == "InvalidParameterException"
    )

    assert rek.describe_collection(CollectionId=collection)["FaceCount"] == 3
    deleted = rek.delete_faces(CollectionId=collection, FaceIds=[rob_face, "nosuchface"])
    assert deleted["DeletedFaces"] == [rob_face]
    assert deleted["UnsuccessfulFaceDeletions"] == [{"FaceId": "nosuchface", "Reasons": ["FACE_NOT_FOUND"]}]
    left = rek.search_faces_by_image(CollectionId=collection, Image=image(photo(ROB, 0)))["FaceMatches"]
    assert [match["Face"]["FaceId"] for match in left] == [rob_again]


def test_max_faces_and_unindexed_faces(rek: Any, collection: str) -> None:
    result = index(rek, collection, FOUR_PEOPLE, external="group", MaxFaces=2, QualityFilter="NONE")
    assert len(result["FaceRecords"]) == 2
    assert [face["Reasons"] for face in result["UnindexedFaces"]] == [["EXCEEDS_MAX_FACES"]] * 2
    indexed = [record["Face"]["BoundingBox"] for record in result["FaceRecords"]]
    left_out = [face["FaceDetail"]["BoundingBox"] for face in result["UnindexedFaces"]]
    # The largest faces are kept.
    assert min(b["Width"] * b["Height"] for b in indexed) >= max(b["Width"] * b["Height"] for b in left_out)
    assert rek.describe_collection(CollectionId=collection)["FaceCount"] == 2


def test_quality_filter_reports_small_faces(rek: Any, collection: str) -> None:
    with Image.open(photo(HOPKINS, 0)) as original:
        small = original.convert("RGB").resize((110, 110))
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=95)
    data = buffer.getvalue()
    filtered = rek.index_faces(CollectionId=collection, Image={"Bytes": data}, QualityFilter="AUTO")
    assert filtered["FaceRecords"] == []
    assert len(filtered["UnindexedFaces"]) == 1
    assert "SMALL_BOUNDING_BOX" in filtered["UnindexedFaces"][0]["Reasons"]
    kept = rek.index_faces(CollectionId=collection, Image={"Bytes": data}, QualityFilter="NONE")
    assert len(kept["FaceRecords"]) == 1 and kept["UnindexedFaces"] == []


def test_no_face_indexes_nothing_and_search_refuses(rek: Any, collection: str) -> None:
    result = index(rek, collection, NO_FACE)
    assert result["FaceRecords"] == [] and result["UnindexedFaces"] == []
    assert (
        error_code(rek.search_faces_by_image, CollectionId=collection, Image=image(NO_FACE))
        == "InvalidParameterException"
    )


def test_list_faces_pages_with_the_paginator(rek: Any, collection: str) -> None:
    ids = []
    for path in (
        photo(ROB, 0),
        photo(ROB, 1),
        photo(HOPKINS, 0),
        photo(HOPKINS, 1),
        OBAMA / "obama_small.jpg",
    ):
        ids.append(index(rek, collection, path, external=path.stem)["FaceRecords"][0]["Face"]["FaceId"])
    pages = list(
        rek.get_paginator("list_faces").paginate(CollectionId=collection, PaginationConfig={"PageSize": 2})
    )
    assert [len(page["Faces"]) for page in pages] == [2, 2, 1]
    listed = [face for page in pages for face in page["Faces"]]
    assert sorted(face["FaceId"] for face in listed) == sorted(ids)
    for face in listed:
        assert_ratio_box(face["BoundingBox"])
        assert face["ImageId"] and face["ExternalImageId"]
    assert error_code(rek.list_faces, CollectionId="no-such-collection") == "ResourceNotFoundException"


def test_compare_faces(rek: Any) -> None:
    same = rek.compare_faces(SourceImage=image(photo(ROB, 0)), TargetImage=image(photo(ROB, 1)))
    assert len(same["FaceMatches"]) == 1 and same["UnmatchedFaces"] == []
    assert same["FaceMatches"][0]["Similarity"] > 80
    assert_ratio_box(same["SourceImageFace"]["BoundingBox"])
    assert_ratio_box(same["FaceMatches"][0]["Face"]["BoundingBox"])
    other = rek.compare_faces(SourceImage=image(photo(ROB, 0)), TargetImage=image(photo(HOPKINS, 0)))
    assert other["FaceMatches"] == [] and len(other["UnmatchedFaces"]) == 1
    # Every face of the target is compared with the source's largest face.
    kit = FACES / "face_recognition-kit_harington"
    group = rek.compare_faces(SourceImage=image(next(kit.iterdir())), TargetImage=image(TWO_PEOPLE))
    assert len(group["FaceMatches"]) == 1 and len(group["UnmatchedFaces"]) == 1
    assert error_code(rek.compare_faces, SourceImage=image(NO_FACE), TargetImage=image(photo(ROB, 0))) == (
        "InvalidParameterException"
    )


def test_detect_faces_default_and_all(rek: Any) -> None:
    default = rek.detect_faces(Image=image(photo(ROB, 0)))["FaceDetails"]
    assert len(default) == 1
    face = default[0]
    assert_ratio_box(face["BoundingBox"])
    assert [mark["Type"] for mark in face["Landmarks"]] == [
        "eyeLeft",
        "eyeRight",
        "nose",
        "mouthLeft",
        "mouthRight",
    ]
    assert set(face["Pose"]) == {"Roll", "Yaw", "Pitch"}
    assert 0 <= face["Quality"]["Brightness"] <= 100 and 0 <= face["Quality"]["Sharpness"] <= 100
    assert "AgeRange" not in face and "Gender" not in face
    full = rek.detect_faces(Image=image(photo(HOPKINS, 0)), Attributes=["ALL"])["FaceDetails"][0]
    assert full["Gender"]["Value"] == "Male"
    assert "Confidence" not in full["Gender"]  # the model's own read meant nothing: not sent
    assert 20 <= full["AgeRange"]["Low"] <= full["AgeRange"]["High"] <= 100
    assert isinstance(full["Smile"]["Value"], bool)
    for never_estimated in (
        "Emotions",
        "Eyeglasses",
        "Sunglasses",
        "Beard",
        "Mustache",
        "EyesOpen",
        "MouthOpen",
    ):
        assert never_estimated not in full
    assert len(rek.detect_faces(Image=image(TWO_PEOPLE))["FaceDetails"]) == 2
    assert rek.detect_faces(Image=image(NO_FACE))["FaceDetails"] == []


def _png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def test_image_errors(rek: Any) -> None:
    # A few bytes claiming 400 million pixels: refused from the header, nothing decoded.
    assert (
        error_code(rek.detect_faces, Image={"Bytes": _png_header(20000, 20000)}) == "ImageTooLargeException"
    )
    assert (
        error_code(rek.detect_faces, Image={"Bytes": b"this is text, not a picture"})
        == "InvalidImageFormatException"
    )
    assert error_code(rek.detect_faces, Image={"Bytes": b"\xff\xd8\xff" + b"\0" * (5 * 1024 * 1024)}) == (
        "ImageTooLargeException"
    )


def test_s3_object_images(rekognition: RekognitionService, rek: Any, collection: str) -> None:
    s3 = rekognition.s3
    s3.put_object(Bucket=rekognition.allowed_bucket, Key="people/rob.jpg", Body=photo(ROB, 0).read_bytes())
    s3.put_object(Bucket=rekognition.other_bucket, Key="rob.jpg", Body=photo(ROB, 0).read_bytes())
    allowed = {"S3Object": {"Bucket": rekognition.allowed_bucket, "Name": "people/rob.jpg"}}
    indexed = rek.index_faces(CollectionId=collection, Image=allowed, ExternalImageId="from-s3")
    assert len(indexed["FaceRecords"]) == 1
    found = rek.search_faces_by_image(CollectionId=collection, Image=image(photo(ROB, 1)))["FaceMatches"]
    assert [match["Face"]["ExternalImageId"] for match in found] == ["from-s3"]
    # A named version is read, not the latest one.
    s3.put_bucket_versioning(Bucket=rekognition.allowed_bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(
        Bucket=rekognition.allowed_bucket, Key="swap.jpg", Body=photo(HOPKINS, 0).read_bytes()
    )
    s3.put_object(Bucket=rekognition.allowed_bucket, Key="swap.jpg", Body=photo(ROB, 1).read_bytes())
    versioned = {
        "S3Object": {"Bucket": rekognition.allowed_bucket, "Name": "swap.jpg", "Version": first["VersionId"]}
    }
    compared = rek.compare_faces(SourceImage=versioned, TargetImage=image(photo(HOPKINS, 1)))
    assert len(compared["FaceMatches"]) == 1
    refused = {"S3Object": {"Bucket": rekognition.other_bucket, "Name": "rob.jpg"}}
    assert error_code(rek.detect_faces, Image=refused) == "AccessDeniedException"
    missing = {"S3Object": {"Bucket": rekognition.allowed_bucket, "Name": "people/nobody.jpg"}}
    assert error_code(rek.detect_faces, Image=missing) == "InvalidS3ObjectException"
