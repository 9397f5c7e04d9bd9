"""A face set's own calibration: the ROC of its faces' pairs and thresholds for target
false-accept rates.

Faces enrolled with a ``user_id`` make the pairs: two faces of one user id are a genuine
pair, two of different user ids an impostor pair (``pipelines.calibration.labelled_pairs``).
Search ``far=`` reads its threshold from here.
"""

from __future__ import annotations

import math
from typing import Any, Final

import numpy as np

from core.errors import ErrorCode
from core.payloads import CalibratePayload
from core.results import CalibrationResult, FarThreshold, RateAtThreshold
from pipelines.calibration import far_thresholds, labelled_pairs, rates_at, roc, threshold_at_far
from pipelines.compare import distance_to_similarity, scoring_for
from workers.errors import JobFailure
from workers.execution import JobContext

MAX_LABELLED_FACES: Final = 3000
"""At most this many labelled faces (~4.5 million pairs, a few seconds of numpy) are read."""
PAGE: Final = 500
ROC_POINTS: Final = 101


def calibrate(ctx: JobContext, payload: CalibratePayload) -> CalibrationResult:
    face_set = ctx.runtime.face_sets.get(payload.project_id, payload.face_set_id)
    if face_set is None:
        raise JobFailure(ErrorCode.FACE_SET_NOT_FOUND, "the face set does not exist")
    distances, same, faces, persons = _pairs(ctx, payload.project_id, face_set)
    scoring = scoring_for(face_set.model_id)
    default = ctx.runtime.match_distance_for(face_set.model_id)
    far, frr = (
        rates_at(distances, same, default) if len(distances) and default is not None else (math.nan, math.nan)
    )
    return CalibrationResult(
        model_id=face_set.model_id,
        labelled_faces=faces,
        persons=persons,
        genuine_pairs=int(np.sum(same)),
        impostor_pairs=int(np.sum(~same)),
        default_threshold=None
        if default is None
        else RateAtThreshold(distance=default, far=_number(far), frr=_number(frr)),
        thresholds=[
            FarThreshold(
                far=target.far,
                distance=target.threshold,
                similarity=None
                if target.threshold is None
                else distance_to_similarity(target.threshold, scoring.calibration),
                impostor_pairs=target.impostor_pairs,
                genuine_pairs=target.genuine_pairs,
                measured_far=target.measured_far,
                frr=target.frr,
                status="ok" if target.threshold is not None else "not enough data",
            )
            for target in far_thresholds(distances, same)
        ],
        roc=[
            RateAtThreshold(distance=point.threshold, far=_number(point.far), frr=_number(point.frr))
            for point in roc(distances, same, ROC_POINTS)
        ],
    )


def threshold_for_far(ctx: JobContext, project_id: str, face_set: Any, far: float) -> float:
    """The distance threshold that keeps this face set's measured FAR at most ``far``."""
    distances, same, _, _ = _pairs(ctx, project_id, face_set)
    threshold = threshold_at_far(distances, same, far)
    if threshold is None:
        raise JobFailure(
            ErrorCode.INVALID_ARGUMENT,
            f"not enough data for far={far}: the face set's user ids give {int(np.sum(~same))} impostor pairs, "
            f"at least {math.ceil(1 / far)} are needed",
        )
    return threshold


def _pairs(ctx: JobContext, project_id: str, face_set: Any) -> tuple[np.ndarray, np.ndarray, int, int]:
    runtime = ctx.runtime
    labelled: list[tuple[str, str]] = []
    offset = 0
    while len(labelled) < MAX_LABELLED_FACES:
        page = runtime.faces.list(project_id, face_set.id, offset=offset, limit=PAGE)
        labelled += [(row.face_id, row.user_id) for row in page if row.user_id]
        if len(page) < PAGE:
            break
        offset += PAGE
    labelled = labelled[:MAX_LABELLED_FACES]
    vectors = runtime.index.get_vectors(face_set.model_id, [face_id for face_id, _ in labelled])
    kept = [(vectors[face_id], user) for face_id, user in labelled if face_id in vectors]
    if len(kept) < 2:
        return np.zeros(0), np.zeros(0, bool), len(kept), len({user for _, user in kept})
    distances, same = labelled_pairs(np.stack([v for v, _ in kept]), [user for _, user in kept])
    return distances, same, len(kept), len({user for _, user in kept})


def _number(value: float) -> float | None:
    return None if math.isnan(value) else float(value)
