"""OpenAPI links: which values of a response the next operations take.

A client generator or a reader of ``/v1/openapi.json`` learns from them that the
``face_set_name`` a create returns is the path of the set's other operations, that a
face's ``face_id`` is what GET/PUT/DELETE ``faces`` and search take, and that every
``202`` names the job to poll. Schemathesis follows them to build call sequences
(tests/api/test_schemathesis_stateful.py).

Links name their target by ``operationId``. flask-openapi3 derives the ids from view
names, so the table below names operations by method and path and the ids are looked up
in the generated document: a renamed view cannot leave a link pointing nowhere, and a
removed operation fails loudly here instead of publishing a broken link.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_openapi3 import OpenAPI

FACE_SETS = "/v1/{project_id}/face-sets"
FACE_SET = FACE_SETS + "/{face_set_name}"
FACES = FACE_SET + "/faces"
FACES_BATCH = FACES + "/batch"
SEARCH = FACE_SET + "/search"
JOB = "/v1/{project_id}/jobs/{job_id}"

Operation = tuple[str, str]  # (method, path as written in the document)

SAME_PROJECT = {"path.project_id": "$request.path.project_id"}
SAME_FACE_SET = {**SAME_PROJECT, "path.face_set_name": "$request.path.face_set_name"}


@dataclass(frozen=True)
class Link:
    name: str
    target: Operation
    description: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    request_body: Mapping[str, str] | None = None

    def as_object(self, operation_ids: Mapping[Operation, str]) -> dict[str, Any]:
        """The OpenAPI 3 Link Object."""
        target_id = operation_ids.get(self.target)
        if target_id is None:
            raise LookupError(f"link {self.name!r} targets {self.target}, which the API does not document")
        link: dict[str, Any] = {"operationId": target_id, "description": self.description}
        if self.parameters:
            link["parameters"] = dict(self.parameters)
        if self.request_body is not None:
            link["requestBody"] = dict(self.request_body)
        return link


def _face_set_links(face_set_name: str) -> list[Link]:
    """Every operation on the face set whose name ``face_set_name`` evaluates to."""
    on_the_set = {**SAME_PROJECT, "path.face_set_name": face_set_name}
    return [
        Link("GetFaceSet", ("GET", FACE_SET), "the face set", on_the_set),
        Link("ListFaces", ("GET", FACES), "a page of the set's faces", on_the_set),
        Link("AddFaces", ("POST", FACES), "add the faces of an image to the set", on_the_set),
        Link("EnrollBatch", ("POST", FACES_BATCH), "enroll many images into the set", on_the_set),
        Link("SearchFaceSet", ("POST", SEARCH), "search the set", on_the_set),
        Link("DeleteFaces", ("DELETE", FACES), "delete faces of the set", on_the_set),
        Link(
            "DeleteFacesByFilter",
            ("DELETE", FACES_BATCH),
            "delete the set's faces a filter matches",
            on_the_set,
        ),
        Link("DeleteFaceSet", ("DELETE", FACE_SET), "delete the set", on_the_set),
    ]


def _face_links(faces: str) -> list[Link]:
    """The operations on the first face of the ``faces`` array a response holds."""
    face_id = f"$response.body#{faces}/0/face_id"
    external_image_id = f"$response.body#{faces}/0/external_image_id"
    return [
        Link("GetFace", ("GET", FACES), "the face", {**SAME_FACE_SET, "query.face_id": face_id}),
        Link(
            "UpdateFace",
            ("PUT", FACES),
            "update the face",
            SAME_FACE_SET,
            {"face_id": face_id, "external_image_id": external_image_id},
        ),
        Link(
            "SearchByFace",
            ("POST", SEARCH),
            "search the set with the face",
            SAME_FACE_SET,
            {"face_id": face_id},
        ),
        Link("DeleteFace", ("DELETE", FACES), "delete the face", {**SAME_FACE_SET, "query.face_id": face_id}),
        Link(
            "DeleteFacesOfImage",
            ("DELETE", FACES),
            "delete every face of the face's image",
            {**SAME_FACE_SET, "query.external_image_id": external_image_id},
        ),
    ]


# (source operation, status) -> the links its response carries
RESPONSE_LINKS: dict[tuple[Operation, str], list[Link]] = {
    (("POST", FACE_SETS), "200"): _face_set_links("$response.body#/face_set_info/face_set_name"),
    (("GET", FACE_SETS), "200"): _face_set_links("$response.body#/face_sets_info/0/face_set_name"),
    (("POST", FACES), "200"): _face_links("/faces"),
    (("GET", FACES), "200"): _face_links("/faces"),
}

POLL_JOB = Link(
    "GetJob", ("GET", JOB), "poll the job", {**SAME_PROJECT, "path.job_id": "$response.body#/job_id"}
)


def add_links(document: dict[str, Any]) -> None:
    """Put the links into a generated document: those of ``RESPONSE_LINKS``, and a
    ``GetJob`` link on every ``202``, which always answers with the job."""
    operations = {
        (method.upper(), path): operation
        for path, path_item in document["paths"].items()
        for method, operation in path_item.items()
    }
    operation_ids = {key: operation["operationId"] for key, operation in operations.items()}
    for (source, status), links in RESPONSE_LINKS.items():
        if source not in operations:
            raise LookupError(f"links are declared for {source}, which the API does not document")
        response = operations[source]["responses"][status]
        response["links"] = {link.name: link.as_object(operation_ids) for link in links}
    for source, operation in operations.items():
        accepted = operation.get("responses", {}).get("202")
        if accepted is not None and source[1].startswith("/v1/{project_id}/"):
            accepted["links"] = {POLL_JOB.name: POLL_JOB.as_object(operation_ids)}


class LinkedOpenAPI(OpenAPI):
    """flask-openapi3's app whose generated document carries the links; the document is
    built on first request of either URL, after every blueprint is registered."""

    def generate_spec_json(self) -> None:
        super().generate_spec_json()  # type: ignore[no-untyped-call]  # flask-openapi3 leaves it unannotated
        add_links(self.spec_json)
