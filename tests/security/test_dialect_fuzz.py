"""Hypothesis-generated hostile requests to every dialect endpoint: never a 5xx, always the
dialect's own answer shape, and a refusal never adds a face or a face set.

Bounded for ``make test`` (``FUZZ_EXAMPLES`` per endpoint, 12 by default); ``make fuzz``
runs it for ``FUZZ_SECONDS`` instead and writes the tally to ``FUZZ_REPORT``.dialects.json (requests,
distinct endpoint x answer-class pairs), which docs/RELIABILITY.md records.
"""

from __future__ import annotations

import base64
import io
import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.security.conftest import D001_APID, D003_APP, Surfaces
from tests.security.dialect_catalog import (
    ENDPOINTS,
    SHAPES,
    Endpoint,
    Images,
    error_class,
    is_refusal,
    text_values,
)

pytestmark = [pytest.mark.integration, pytest.mark.model]

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
SECONDS = float(os.environ.get("FUZZ_SECONDS", "0"))


@st.composite
def requests_for(draw: st.DrawFn, endpoint: Endpoint, images: Images, credentials: dict[str, Any]) -> dict[str, Any]:
    """One request's form/query values, files and headers; each parameter may be absent."""
    values: dict[str, Any] = {}
    for name in endpoint.texts:
        if draw(st.booleans()) or name in ("app_id",):
            values[name] = draw(st.one_of(st.just(credentials.get(name, "")), text_values()))
    for name in endpoint.images:
        if draw(st.integers(0, 3)):
            values[name] = draw(images.base64_text())
    files = {}
    for name in endpoint.files:
        if draw(st.integers(0, 3)):
            filename = draw(st.sampled_from(["a.jpg", "b.png", "../../evil.jpg", "x", "a.tiff", "\N{GRINNING FACE}.jpg"]))
            files[name] = (io.BytesIO(draw(images.raw())), filename)
    headers: dict[str, str] = {}
    valid = draw(st.integers(0, 9)) > 0  # mostly past authentication, into the handlers
    if endpoint.surface == "seed001":
        values.setdefault("Apid", str(D001_APID) if valid else draw(text_values()))
        values["Kvalue"] = credentials["Kvalue"] if valid else draw(text_values())
    if endpoint.surface == "seed003":
        headers["X-GW-Authorization"] = credentials["X-GW-Authorization"] if valid else draw(text_values())[:200]
    return {"values": values, "files": files, "headers": headers}


def send(surfaces: Surfaces, endpoint: Endpoint, request: dict[str, Any]) -> tuple[int, Any]:
    values, files = request["values"], request["files"]
    kwargs: dict[str, Any] = {"headers": request["headers"]}
    if endpoint.in_query:
        kwargs["query_string"] = values
    elif files:
        kwargs.update(data={**values, **files}, content_type="multipart/form-data")
    else:
        kwargs["data"] = values
    try:
        response = surfaces.http.open(endpoint.path, method=endpoint.method, **kwargs)
    except (UnicodeEncodeError, ValueError):  # the test client cannot put this value on the wire
        return -1, None
    return response.status_code, response.get_json(silent=True)


def test_generated_dialect_requests_get_the_dialects_own_answers(surfaces: Surfaces) -> None:
    photo = base64.b64decode(surfaces.face_b64)
    images = Images(photo)
    credentials = {"Kvalue": surfaces.d001_key, "X-GW-Authorization": surfaces.d003_key, "app_id": D003_APP}
    tally: Counter[tuple[str, str]] = Counter()
    problems: list[str] = []
    deadline = time.monotonic() + SECONDS

    def exercise(endpoint: Endpoint, seed: int) -> None:
        @given(request=requests_for(endpoint, images, credentials))
        @settings(
            max_examples=EXAMPLES, deadline=None, database=None, derandomize=not SECONDS,
            phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
        )
        def run(request: dict[str, Any]) -> None:
            before = surfaces.written()
            status, body = send(surfaces, endpoint, request)
            if status == -1:
                return
            tally[(endpoint.label, error_class(endpoint, status, body))] += 1
            where = f"{endpoint.label} {json.dumps(request['values'])[:200]}"
            if status >= 500 or not isinstance(body, dict) or not SHAPES[endpoint.surface](status, body):
                problems.append(f"{where} -> {status} {str(body)[:200]}")
            elif is_refusal(endpoint, status, body):
                after = surfaces.written()
                if (after["faces"], after["face_sets"]) != (before["faces"], before["face_sets"]):
                    problems.append(f"{where} -> refused ({body}) but wrote {before} -> {after}")

        run()

    rounds = 0
    while True:
        for endpoint in ENDPOINTS:
            exercise(endpoint, rounds)
        rounds += 1
        if time.monotonic() >= deadline:
            break
    report = os.environ.get("FUZZ_REPORT")
    if report:
        Path(report + ".dialects.json").write_text(json.dumps({
            "surface": "dialects", "seconds": SECONDS, "requests": sum(tally.values()), "pairs": len(tally),
            "problems": len(problems), "classes": sorted(f"{label} {cls}" for label, cls in tally),
        }, indent=1))
    assert not problems, "\n".join(problems[:20])
    reached = {label for label, cls in tally}
    assert reached == {endpoint.label for endpoint in ENDPOINTS}
    assert sum(tally.values()) >= len(ENDPOINTS) * EXAMPLES // 2
