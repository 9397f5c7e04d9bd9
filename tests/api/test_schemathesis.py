"""Schemathesis against the served /v1/openapi.json: generated requests, valid and invalid,
on every operation, with a valid key for a project of its own, never get a 5xx, and every
answer (sync results and errors alike) matches the schema declared for its status."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from pydantic import SecretStr
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.core.failures import FailureGroup

from tests.api.conftest import ApiStack

pytestmark = [pytest.mark.integration, pytest.mark.model]

# `make fuzz` raises both: FUZZ_SECONDS repeats the whole pass with fresh random examples
# until that long has passed, and FUZZ_REPORT receives the tally (see docs/RELIABILITY.md).
EXAMPLES_PER_OPERATION_AND_MODE = int(os.environ.get("FUZZ_EXAMPLES", "10"))
FUZZ_SECONDS = float(os.environ.get("FUZZ_SECONDS", "0"))
# The admin API (projects, keys, queue signals) answers only the operator's token.
OPERATOR_TOKEN = "schemathesis-operator-token"


def test_generated_requests_never_get_a_server_error(api: ApiStack) -> None:
    from api.app import create_app

    # A short sync wait keeps generated compute calls quick (they answer 202 when the
    # worker is busy), and no rate limit: the generator sends many requests a minute.
    fuzz_settings = api.settings.model_copy(
        update={
            "jobs": api.settings.jobs.model_copy(update={"sync_wait_seconds": 2.0}),
            "api": api.settings.api.model_copy(
                update={"rate_limit_per_minute": 0, "admin_token": SecretStr(OPERATOR_TOKEN)}
            ),
        }
    )
    app = create_app(fuzz_settings)
    # A project of its own: generated deletes never touch other tests' face sets.
    client = api.new_client(app)
    fuzz_set = "fuzz_set"
    schema = schemathesis.openapi.from_wsgi("/v1/openapi.json", app)

    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 14
    server_errors: list[str] = []
    answered: Counter[tuple[str, int]] = Counter()
    error_classes: set[tuple[str, int, str]] = set()
    calls = 0

    def recreate_fuzz_set() -> None:
        """A generated async DELETE hides the face set at once; its name is free again
        once the delete job has run."""
        deadline = time.monotonic() + 60
        while True:
            created = client.call("POST", "/face-sets", json={"face_set_name": fuzz_set,
                                                              "external_fields": {"n": {"type": "integer"}}})
            if created.status_code == 200:
                return
            assert "being deleted" in created.get_json()["error_msg"] and time.monotonic() < deadline, created.get_json()
            time.sleep(0.2)

    def exercise(operation: Any, mode: GenerationMode) -> None:
        # Fixed ids get generated requests past "no such project / face set" into the handlers.
        path_parameters: dict[str, str] = {}
        if "{project_id}" in operation.path:
            path_parameters["project_id"] = client.project_id
        if "{face_set_name}" in operation.path:
            path_parameters["face_set_name"] = fuzz_set

        @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters or None))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION_AND_MODE,
            deadline=None,
            derandomize=not FUZZ_SECONDS,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            nonlocal calls
            calls += 1
            if client.call("GET", f"/face-sets/{fuzz_set}").status_code == 404:  # a generated DELETE took it
                recreate_fuzz_set()
            try:
                response = case.call_and_validate(
                    headers={"X-Auth-Token": OPERATOR_TOKEN if case.path.startswith("/v1/admin/") else client.api_key},
                    checks=[not_a_server_error, response_schema_conformance],
                )
                answered[(operation.label, response.status_code)] += 1
                body = response.json() if "json" in response.headers.get("Content-Type", "") else {}
                error_classes.add((operation.label, response.status_code, (body or {}).get("error_code", "")))
            except (AssertionError, FailureGroup) as failure:  # collected, not shrunk: one report lists them all
                server_errors.append(f"{case.method} {case.formatted_path} ({mode.value}): {failure}"[:300])

        try:
            run()
        except Unsatisfiable:
            # An operation without parameters or body (GET /healthz) has no invalid request.
            assert mode is GenerationMode.NEGATIVE, operation.path

    deadline = time.monotonic() + FUZZ_SECONDS
    while True:
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                exercise(operation, mode)
        if time.monotonic() >= deadline:
            break
    report = os.environ.get("FUZZ_REPORT")
    if report:
        Path(report + ".native.json").write_text(json.dumps({
            "surface": "native", "seconds": FUZZ_SECONDS, "requests": calls, "pairs": len(error_classes),
            "server_errors": len(server_errors), "classes": sorted(f"{a} {b} {c}" for a, b, c in error_classes),
        }, indent=1))
    assert calls >= len(operations) * 2
    assert not server_errors, "\n".join(server_errors[:20])
    # The key was accepted: every operation answered past the auth check at least once
    # (400/404 from its own validation, or a result)...
    reached = {label for (label, status) in answered if status not in (401, 403)}
    assert reached == {operation.label for operation in operations}, sorted(answered.items())
    # ...and the operations that generated values can complete did (the others need a
    # real face photo or an existing job).
    succeeded = {label for (label, status) in answered if 200 <= status < 300}
    completable = {
        "POST /v1/{project_id}/face-sets",
        "GET /v1/{project_id}/face-sets",
        "GET /v1/{project_id}/face-sets/{face_set_name}",
        "DELETE /v1/{project_id}/face-sets/{face_set_name}",
        "GET /v1/{project_id}/face-sets/{face_set_name}/faces",
        "GET /v1/admin/queues",
        "GET /healthz",
        "GET /readyz",
    }
    assert completable <= succeeded, sorted(answered.items())
