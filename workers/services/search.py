"""1:N search of a face set by an image (largest face, or every face) or by a stored face."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from core.errors import ErrorCode
from core.payloads import SearchPayload
from core.results import FaceRecord, Match, SearchGroup, SearchResult
from infra.filter_columns import FilterColumns
from infra.search_filter import FilterError, built_in_columns, compile_filter, with_built_in_fields
from infra.vector_index.errors import InvalidVectorFilter
from infra.vector_index.freshness import written_within
from pipelines.compare import (
    SimilarityCalibration,
    distance_to_similarity,
    scoring_for,
    similarity_to_distance,
)
from pipelines.engine import FaceResult
from pipelines.types import Vector
from workers.errors import JobFailure
from workers.execution import JobContext
from workers.services.calibration import threshold_for_far
from workers.services.common import detected_face, largest, load_image
from workers.services.person_score import add_person_scores

# Extra candidates fetched when results are re-ranked after the vector query
# (grouping by person), so the top_n survivors are still the best ones.
OVERFETCH = 4
MAX_CANDIDATES = 1000
# A Bounded search may not see vectors written moments ago (Milvus's bounded staleness,
# common.gracefulTime, is 5 s; ~0.2 s in practice). A face set that got a face this recently
# is searched with Strong consistency (~200 ms more on a server), so a face whose enrollment
# answered before the search was sent is always found; the margin covers clock skew between
# the enrolling worker and this one.
READ_YOUR_WRITES_WINDOW = timedelta(seconds=10)


_NO_THRESHOLD = (
    "model {model} has no measured threshold: search with far= (the face set's own calibration) or a "
    "similarity threshold, or register the model with facefleet models add --threshold"
)


def search(ctx: JobContext, payload: SearchPayload) -> SearchResult:
    runtime = ctx.runtime
    found = runtime.face_sets.get_with_newest_face(payload.project_id, payload.face_set_id)
    if found is None:
        raise JobFailure(ErrorCode.FACE_SET_NOT_FOUND, "the face set does not exist")
    face_set, newest_face_at = found
    expr = (
        _compiled_filter(ctx, payload, face_set.external_fields, face_set.model_id)
        if payload.filter
        else None
    )
    calibration = scoring_for(face_set.model_id).calibration
    match_distance = runtime.match_distance_for(face_set.model_id)
    if match_distance is None and payload.far is None and not payload.threshold:
        raise JobFailure(ErrorCode.INVALID_ARGUMENT, _NO_THRESHOLD.format(model=face_set.model_id))

    probes: list[tuple[FaceResult | None, Vector]]
    if payload.face_id is not None:
        probes = [(None, _stored_vector(ctx, payload))]
    else:
        assert payload.image_key is not None
        image = load_image(ctx, payload.image_key)
        # Only an all-faces search shows the probe faces (and so their landmarks).
        results = runtime.pipeline_for(face_set.model_id).process(
            image, embed=True, landmarks=payload.all_faces
        )
        if not results:
            raise JobFailure(ErrorCode.NO_FACE, "no face was detected in the probe image")
        chosen: list[FaceResult] = results if payload.all_faces else [largest(results)]
        probes = [(r, r.embedding.vector) for r in chosen if r.embedding is not None]

    fetch = payload.top_n * (OVERFETCH if payload.group_by == "person" else 1)
    try:
        hits_per_probe = runtime.index.search(
            face_set.model_id,
            [vector for _, vector in probes],
            top_k=min(max(fetch, 1), MAX_CANDIDATES),
            project_id=payload.project_id,
            face_set_id=payload.face_set_id,
            expr=expr,
            strong=_written_recently(newest_face_at, face_set.vector_written_ts),
            written_ts=face_set.vector_written_ts,
            face_set_size=face_set.face_count,
        )
    except InvalidVectorFilter as refused:  # a filter our parser accepts but Milvus cannot run
        raise JobFailure(ErrorCode.INVALID_FILTER, str(refused)) from refused
    rows = runtime.faces.get_many(
        payload.project_id,
        payload.face_set_id,
        sorted({hit.face_id for hits in hits_per_probe for hit in hits}),
    )
    scoring: dict[str, Any] = {"model_id": face_set.model_id, "match_distance": match_distance}
    if payload.far is not None:
        max_distance = threshold_for_far(ctx, payload.project_id, face_set, payload.far)
        scoring["far_distance"] = max_distance
    else:
        threshold = payload.threshold
        max_distance = similarity_to_distance(threshold, calibration) if threshold > 0 else float("inf")
    ranked = [_rank(payload, hits, rows, calibration, max_distance) for hits in hits_per_probe]
    if payload.group_by == "person":
        ranked = [
            add_person_scores(
                ctx,
                payload.project_id,
                payload.face_set_id,
                vector,
                matches,
                face_set.model_id,
                lambda distance: distance_to_similarity(distance, calibration),
            )
            for (_, vector), matches in zip(probes, ranked, strict=True)
        ]

    if not payload.all_faces:
        if payload.image_key is None or not payload.show_probe_faces:
            return SearchResult(faces=ranked[0], **scoring)
        searched = chosen[0]
        return SearchResult(
            faces=ranked[0],
            **scoring,
            searched_face=detected_face(searched.face),
            unsearched_faces=[detected_face(r.face) for r in results if r is not searched],
        )
    if payload.far is not None:
        threshold = distance_to_similarity(max_distance, calibration)
    else:
        threshold = payload.threshold or distance_to_similarity(match_distance or 0.0, calibration)
    return SearchResult(
        **scoring,
        results=[
            SearchGroup(
                face=detected_face(probe.face) if probe is not None else None,
                label=_label(matches, threshold),
                faces=matches,
            )
            for (probe, _), matches in zip(probes, ranked, strict=True)
        ],
    )


def _compiled_filter(ctx: JobContext, payload: SearchPayload, schema: dict[str, Any], model_id: str) -> str:
    assert payload.filter is not None
    try:
        columns = built_in_columns(schema)
        if ctx.runtime.index.has_filter_columns(model_id):
            columns.update(FilterColumns.for_schema(schema).by_field)
        return compile_filter(payload.filter, with_built_in_fields(schema), columns=columns)
    except FilterError as bad:
        raise JobFailure(ErrorCode.INVALID_FILTER, str(bad)) from bad


def _written_recently(newest_face_at: datetime | None, vector_written_ts: int | None) -> bool:
    """Read at the job's start: a face whose enrollment answered before the search was sent
    is in the face set by then, and so is a vector rewritten since (a face's new fields)."""
    now = datetime.now(UTC)
    if newest_face_at is not None and now - newest_face_at < READ_YOUR_WRITES_WINDOW:
        return True
    return written_within(vector_written_ts, READ_YOUR_WRITES_WINDOW, now)


def _rank(
    payload: SearchPayload,
    hits: list[Any],
    rows: dict[str, Any],
    calibration: SimilarityCalibration | None,
    max_distance: float,
) -> list[Match]:
    matches: list[Match] = []
    seen_people: set[str] = set()
    for hit in sorted(hits, key=lambda h: h.distance):
        row = rows.get(hit.face_id)
        if row is None or hit.distance > max_distance:
            # No row: a vector whose enrollment never committed (or is being deleted) stays invisible.
            continue
        if payload.group_by == "person":
            person = row.user_id or f"face:{row.face_id}"
            if person in seen_people:
                continue
            seen_people.add(person)
        matches.append(_match(row, hit.distance, calibration))
        if len(matches) == payload.top_n:
            break
    for spec in reversed(payload.sort):
        for field, direction in spec.items():
            matches.sort(key=_by_field(field), reverse=direction == "desc")
    if payload.return_fields is not None:
        wanted = set(payload.return_fields)
        matches = [
            match.model_copy(
                update={"external_fields": {k: v for k, v in match.external_fields.items() if k in wanted}}
            )
            for match in matches
        ]
    return matches


def _by_field(name: str) -> Callable[[Match], tuple[int, Any]]:
    return lambda match: _sort_key(match.external_fields.get(name))


def _sort_key(value: Any) -> tuple[int, Any]:
    # Missing values sort last; numbers and strings never get compared with each other.
    if value is None:
        return (2, 0)
    if isinstance(value, (int, float)):
        return (0, value)
    return (1, str(value))


def _match(row: FaceRecord, distance: float, calibration: SimilarityCalibration | None) -> Match:
    return Match(
        **Match.fields_of(row),
        similarity=round(distance_to_similarity(distance, calibration), 6),
        distance=round(float(distance), 6),
    )


def _label(matches: list[Match], threshold: float) -> str:
    if not matches or matches[0].similarity < threshold:
        return "unknown"
    best = matches[0]
    return str(best.user_id or best.external_image_id)


def _stored_vector(ctx: JobContext, payload: SearchPayload) -> np.ndarray:
    runtime = ctx.runtime
    assert payload.face_id is not None
    row = runtime.faces.get(payload.project_id, payload.face_set_id, payload.face_id)
    if row is None:
        raise JobFailure(ErrorCode.FACE_NOT_FOUND, f"face {payload.face_id} is not in this face set")
    vectors = runtime.index.get_vectors(row.model_id, [row.face_id])
    if row.face_id not in vectors:
        raise JobFailure(ErrorCode.FACE_NOT_FOUND, f"face {payload.face_id} has no stored vector")
    return vectors[row.face_id]
