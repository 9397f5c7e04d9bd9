"""Schemathesis follows the OpenAPI links of the served /v1/openapi.json
(api/openapi_links.py): sequences such as create face set -> add faces -> get / update /
search by / delete the face, or any 202 -> GET its job, never get a 5xx, every answer
conforms to the document (status code, content type, body schema), what a create returned
can be read through the links, and a face set deleted with 200 is gone.

Generated image bodies are garbage (400), so two in three add-faces calls carry a real
photo instead: without it no face would exist and the face links would never be followed.
Half of those are also plain synchronous calls: a generated callback URL, async flag or
Idempotency-Key turns a call into a 400 or a 202 without faces, and a CI run once followed
the create -> add-faces link 46 times for a single 200 (so no face link was ever reached).
Likewise every third face-set creation is a plain create under a fresh name: generated names
are short and come back, and once they exist a generated create answers "already exists".
Suites are drawn at random even under Hypothesis' "ci" profile: derandomized, a CI run
replayed one suite 80 times and created 21 face sets in 801 calls, so no link chain reached
a face in 120 s.
"""

from __future__ import annotations

import time
import uuid
import zlib
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import Flaky
from schemathesis.checks import CheckFunction
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.engine.errors import is_inconsistent_replay
from schemathesis.generation.case import Case
from schemathesis.generation.stateful import run_state_machine_as_test
from schemathesis.generation.stateful.state_machine import APIStateMachine, StepInput, StepOutput
from schemathesis.openapi.checks import UseAfterFree
from schemathesis.specs.openapi.schemas import OpenApiSchema
from schemathesis.specs.openapi.stateful import collect_transitions

from api.openapi_links import FACE_SET, FACE_SETS, FACES
from tests.api.conftest import ApiStack
from tests.api.photos import OBAMA_240, b64
from tests.support.client import ProjectClient

pytestmark = [pytest.mark.integration, pytest.mark.model]

MIN_SEQUENCES = 50
SEQUENCES_PER_SUITE = 10
STEPS_PER_SEQUENCE = 12
# Suites run until MIN_SEQUENCES ran and the links were followed into real state (a face
# set and a face found through them); this budget bounds a slow machine.
TIME_BUDGET_SECONDS = 120.0
# Long enough that a real enrollment answers 200 with its faces even on a loaded machine
# (a 202 carries only the job link, and the face links would go unexercised).
SYNC_WAIT_SECONDS = 10.0
FACE_LINKS = frozenset({"GetFace", "UpdateFace", "SearchByFace", "DeleteFace", "DeleteFacesOfImage"})
# Inferred links (Location headers, name matching) are off: the run tests the declared ones.
CONFIG = SchemathesisConfig.from_dict({"phases": {"stateful": {"inference": {"algorithms": []}}}})


class Observed:
    """What the run did, for the assertions and the numbers in docs/RELIABILITY.md."""

    def __init__(self) -> None:
        self.sequences = 0
        self.calls: Counter[tuple[str, int]] = Counter()  # (operation label, status)
        self.links: Counter[tuple[str, int]] = Counter()  # (link name, status of the linked call)
        self.failures: list[str] = []
        self.photos_sent = 0
        self.add_faces: Counter[tuple[str, int]] = Counter()  # (how the call was sent, status)
        self.creates: Counter[tuple[str, int, str]] = Counter()  # (sent as, status, error code)
        self.creates_sent = 0
        self.sequence_so_far: list[str] = []  # the current sequence's calls, for failure reports
        self.excused: Counter[str] = Counter()  # use-after-free reports that are not bugs, by delete

    def links_followed_to_success(self) -> set[str]:
        return {name for (name, status) in self.links if 200 <= status < 300}

    def reached_real_state(self) -> bool:
        """The links were followed into real state, not only into 404s of generated names."""
        followed = self.links_followed_to_success()
        return "GetFaceSet" in followed and bool(followed & FACE_LINKS)

    def summary(self) -> str:
        return (
            f"{self.sequences} sequences, {sum(self.calls.values())} steps "
            f"({sum(self.links.values())} along a link, {self.photos_sent} real photos)\n"
            f"links followed (name, status): {sorted(self.links.items())}\n"
            f"calls (operation, status): {sorted(self.calls.items())}\n"
            f"add faces (sent as, status): {sorted(self.add_faces.items())}\n"
            f"create face set (sent as, status, error code): {sorted(self.creates.items())}\n"
            f"use-after-free reports excused (delete -> status): {sorted(self.excused.items())}"
        )


def test_linked_sequences_never_get_a_server_error(api: ApiStack) -> None:
    from api.app import create_app

    # No rate limit (the generator sends many requests a minute); a project of its own, so
    # generated deletes never touch other tests' face sets.
    fuzz_settings = api.settings.model_copy(
        update={
            "jobs": api.settings.jobs.model_copy(update={"sync_wait_seconds": SYNC_WAIT_SECONDS}),
            "api": api.settings.api.model_copy(update={"rate_limit_per_minute": 0}),
        }
    )
    app = create_app(fuzz_settings)
    client = api.new_client(app)
    schema = schemathesis.openapi.from_wsgi("/v1/openapi.json", app, config=CONFIG)
    operations = [result.ok() for result in schema.get_all_operations()]
    # Building the transitions validates every link: a missing target or parameter raises.
    links = sum(len(node.outgoing) for node in collect_transitions(operations).operations.values())
    assert links >= 30, links

    observed = Observed()
    workflow = _workflow(schema, client, observed)
    started = time.monotonic()
    suites = 0
    while time.monotonic() - started < TIME_BUDGET_SECONDS and not (
        observed.sequences >= MIN_SEQUENCES and observed.reached_real_state()
    ):
        suites += 1
        try:
            run_state_machine_as_test(
                workflow,
                settings=settings(
                    max_examples=SEQUENCES_PER_SUITE,
                    stateful_step_count=STEPS_PER_SEQUENCE,
                    deadline=None,
                    database=None,
                    # Hypothesis' "ci" profile, loaded wherever $CI is set, derandomizes: every
                    # suite would replay the first one's sequences, whose names then exist.
                    derandomize=False,
                    phases=[Phase.generate],
                    suppress_health_check=list(HealthCheck),
                ),
            )
        except Exception as diverged:
            # The API keeps what earlier sequences created, so a replayed prefix can answer
            # differently (a name taken, a list grown) and Hypothesis gives up on the suite;
            # Schemathesis' own runner starts a new suite then, and so does this test.
            if not (isinstance(diverged, Flaky) or is_inconsistent_replay(diverged)):
                raise
    elapsed = time.monotonic() - started
    print(
        f"\n{len(operations)} operations, {links} links, {suites} suites in {elapsed:.0f} s: {observed.summary()}"
    )

    assert not observed.failures, "\n".join(observed.failures[:20])
    assert observed.calls[(f"POST {FACE_SETS}", 200)] > 0, observed.summary()
    assert observed.reached_real_state(), observed.summary()


def test_the_document_links_ids_to_the_operations_that_take_them(api: ApiStack) -> None:
    paths = api.client.http.get("/v1/openapi.json").get_json()["paths"]
    operation_ids = {operation["operationId"] for item in paths.values() for operation in item.values()}
    assert "delete" in paths[FACES + "/batch"], "DELETE faces/batch is documented beside POST"

    def links_of(method: str, path: str, status: str) -> dict[str, Any]:
        links: dict[str, Any] = paths[path][method]["responses"][status]["links"]
        assert {link["operationId"] for link in links.values()} <= operation_ids
        return links

    created = links_of("post", FACE_SETS, "200")
    assert (
        created["GetFaceSet"]["parameters"]["path.face_set_name"]
        == "$response.body#/face_set_info/face_set_name"
    )
    added = links_of("post", FACES, "200")
    assert added["GetFace"]["parameters"]["query.face_id"] == "$response.body#/faces/0/face_id"
    assert added["UpdateFace"]["requestBody"]["face_id"] == "$response.body#/faces/0/face_id"
    for item in paths.values():
        for operation in item.values():
            if "202" in operation["responses"]:
                job = operation["responses"]["202"]["links"]["GetJob"]
                assert job["parameters"]["path.job_id"] == "$response.body#/job_id"


def _workflow(schema: OpenApiSchema, client: ProjectClient, observed: Observed) -> type[APIStateMachine]:
    """The state machine of the schema's links, calling as ``client``'s project."""
    photo = b64(OBAMA_240)
    checks = _checks()
    add_faces = f"POST {FACES}"
    create_face_set = f"POST {FACE_SETS}"

    class FaceFleetWorkflow(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            observed.sequences += 1
            observed.sequence_so_far = []

        def before_call(self, case: Case) -> None:
            # Root calls get random ids; ours get them past "no such project" into the handlers.
            case.path_parameters = {**(case.path_parameters or {}), "project_id": client.project_id}
            if case.operation.label == add_faces:
                kind = _add_faces_kind(case)
                if kind != GENERATED:
                    _send_a_real_photo(case, photo)
                    observed.photos_sent += 1
                if kind == PLAIN_PHOTO:
                    _make_it_a_plain_sync_call(case)
                self.add_faces_sent_as = ADD_FACES_KINDS[kind]
            elif case.operation.label == create_face_set:
                observed.creates_sent += 1
                plain = observed.creates_sent % 3 == 0
                if plain:
                    # A valid create under a name no other call used (default model, no
                    # fields); headers and query keep what was generated.
                    case.body = {"face_set_name": f"fuzz-{uuid.uuid4().hex[:16]}"}
                self.create_sent_as = "plain" if plain else "generated"

        def get_call_kwargs(self, case: Case) -> dict[str, Any]:
            return {"headers": {"X-Auth-Token": client.api_key}}

        def step(self, input: StepInput) -> StepOutput:
            output = super().step(input)
            status = output.response.status_code
            observed.calls[(input.case.operation.label, status)] += 1
            observed.sequence_so_far.append(
                f"{input.case.method} {input.case.formatted_path}?{input.case.query or ''} -> {status}"
            )
            if input.case.operation.label == add_faces:
                observed.add_faces[(self.add_faces_sent_as, status)] += 1
            elif input.case.operation.label == create_face_set:
                observed.creates[(self.create_sent_as, status, _error_code(output.response))] += 1
            link = _link_name(input)
            if link is not None:
                observed.links[(link, status)] += 1
            return output

        def validate_response(
            self, response: Any, case: Case, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            try:
                case.validate_response(
                    response, checks=checks, transport_kwargs=kwargs or None, recorder=self.recorder
                )
            except FailureGroup as group:  # collected, not shrunk: one report lists them all
                real = [failure for failure in group.exceptions if not self._deleted_later(failure)]
                if real:
                    sequence = "\n".join(observed.sequence_so_far)
                    found = "\n".join(f"{failure.title}: {failure.message}" for failure in real)
                    observed.failures.append(f"{found}\n{response.text[:300]}\nafter:\n{sequence}")

        def _deleted_later(self, failure: Exception) -> bool:
            """A use-after-free that is the API's documented behaviour, not a bug: only a
            face set deleted with 200 must be gone. ``DELETE faces?face_id=`` (and
            ``faces/batch``) remove the faces the query picks from a collection that lives
            on, and a 202 delete is a job that has not run yet."""
            if not isinstance(failure, UseAfterFree) or failure.deleted_case_id is None:
                return False
            deleted = self.recorder.cases[failure.deleted_case_id].value
            answer = self.recorder.find_response(case_id=failure.deleted_case_id)
            excused = deleted.operation.path != FACE_SET or (answer is not None and answer.status_code == 202)
            if excused:
                observed.excused[
                    f"{deleted.operation.label} -> {answer.status_code if answer else None}"
                ] += 1
            return excused

    return FaceFleetWorkflow


def _checks() -> list[CheckFunction]:
    from schemathesis import checks

    return [
        checks.not_a_server_error,
        checks.status_code_conformance,
        checks.content_type_conformance,
        checks.response_schema_conformance,
        checks.use_after_free,
        checks.ensure_resource_availability,
    ]


def _link_name(input: StepInput) -> str | None:
    # Transition ids read "POST /v1/... -> [200] GetFaceSet -> GET /v1/..."
    if input.transition is None or not input.is_applied:
        return None
    return input.transition.id.split("] ", 1)[1].split(" -> ", 1)[0]


GENERATED, PHOTO, PLAIN_PHOTO = range(3)
ADD_FACES_KINDS = ("generated", "photo", "plain photo")
# The request options that make an add-faces call answer without faces: 202 (async) or 400
# (a callback URL off the allow-list, an Idempotency-Key reused for another body).
ASYNC_AND_CALLBACK_OPTIONS = ("Prefer", "X-Callback-Url", "Idempotency-Key", "async", "callback_url")


def _add_faces_kind(case: Case) -> int:
    """A third each: as generated, a real photo with the generated options, a real photo in a
    plain synchronous call. Chosen by the generated body so that Hypothesis, replaying a
    sequence, sends the same requests again."""
    if not isinstance(case.body, dict):
        return GENERATED
    return zlib.crc32(repr(sorted(case.body.items())).encode()) % 3


def _error_code(response: Any) -> str:
    try:
        return str(response.json().get("error_code", ""))
    except (ValueError, AttributeError):
        return ""


def _make_it_a_plain_sync_call(case: Case) -> None:
    for options in (case.headers, case.query):
        for name in ASYNC_AND_CALLBACK_OPTIONS:
            if options:
                options.pop(name, None)


def _send_a_real_photo(case: Case, photo_base64: str) -> None:
    """A real face in place of the generated image; the other generated options stay."""
    assert isinstance(case.body, dict)
    for generated in ("image_base64", "image_url", "image_file", "external_fields"):
        case.body.pop(generated, None)
    case.body["image_base64"] = photo_base64
