"""Stateless compute jobs: detect, compare and embed. They write nothing but the job row."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from core.errors import ErrorCode
from core.payloads import ComparePayload, DetectPayload, EmbedPayload
from core.results import ComparedFace, CompareResult, DetectResult, EmbeddedFace, EmbedResult, ImageSize
from pipelines.compare import distance_to_similarity, euclidean_distance, scoring_for
from pipelines.engine import FaceResult
from workers.errors import JobFailure
from workers.execution import JobContext
from workers.services.calibration import threshold_for_far
from workers.services.common import detected_face, largest, load_image


def detect(ctx: JobContext, payload: DetectPayload) -> DetectResult:
    image = load_image(ctx, payload.image_key)
    pipeline = ctx.runtime.pipeline
    found = sorted(pipeline.detect(image, landmarks=False), key=lambda face: face.confidence, reverse=True)
    if payload.max_faces is not None:
        found = found[: payload.max_faces]
    shown = pipeline.with_landmarks(image, found)
    analyzed = payload.attributes or payload.quality
    analyzer = ctx.runtime.analyzer if analyzed else None
    faces = [
        detected_face(face, analyzer(image, face, payload.attributes, payload.quality) if analyzer else None)
        for face in shown
    ]
    return DetectResult(faces=faces, image=ImageSize(width=image.width, height=image.height))


def compare(ctx: JobContext, payload: ComparePayload) -> CompareResult:
    face_set = None
    if payload.project_id is not None and payload.face_set_id is not None:
        face_set = ctx.runtime.face_sets.get(payload.project_id, payload.face_set_id)
        if face_set is None:
            raise JobFailure(ErrorCode.FACE_SET_NOT_FOUND, "the face set does not exist")
    # A face set's threshold holds for its own model's distances only.
    pipeline = ctx.runtime.pipeline if face_set is None else ctx.runtime.pipeline_for(face_set.model_id)
    first = _largest_embedded(ctx, payload.image1_key, "image1", pipeline)
    assert first.embedding is not None
    if payload.all_targets:
        return _compare_every_target(ctx, first, payload.image2_key)
    second = _largest_embedded(ctx, payload.image2_key, "image2", pipeline)
    assert second.embedding is not None
    distance = euclidean_distance(first.embedding.vector, second.embedding.vector)
    model_id = first.embedding.model_id
    far_distance = None
    if face_set is not None and payload.project_id is not None and payload.far is not None:
        far_distance = threshold_for_far(ctx, payload.project_id, face_set, payload.far)
    return CompareResult(
        similarity=distance_to_similarity(distance, scoring_for(model_id).calibration),
        distance=distance,
        model_id=model_id,
        match_distance=ctx.runtime.match_distance_for(model_id),
        image1_face=detected_face(first.face),
        image2_face=detected_face(second.face),
        far_distance=far_distance,
        matched=None if far_distance is None else distance <= far_distance,
    )


def _compare_every_target(ctx: JobContext, first: FaceResult, image2_key: str) -> CompareResult:
    """image1's largest face against every face of image2 (none is not an error here)."""
    assert first.embedding is not None
    image = load_image(ctx, image2_key)
    targets = _shown(ctx, image, ctx.runtime.pipeline.process(image, embed=True, landmarks=False))
    calibration = scoring_for(first.embedding.model_id).calibration
    compared = []
    for target in targets:
        assert target.embedding is not None
        distance = euclidean_distance(first.embedding.vector, target.embedding.vector)
        compared.append(
            ComparedFace(
                **dict(detected_face(target.face)),
                distance=distance,
                similarity=distance_to_similarity(distance, calibration),
            )
        )
    return CompareResult(
        model_id=first.embedding.model_id, image1_face=detected_face(first.face), image2_faces=compared
    )


def embed(ctx: JobContext, payload: EmbedPayload) -> EmbedResult:
    image = load_image(ctx, payload.image_key)
    results = ctx.runtime.pipeline.process(image, embed=True, landmarks=False)
    if not results:
        raise JobFailure(ErrorCode.NO_FACE, "no face was detected in the image")
    chosen = _shown(ctx, image, [largest(results)] if payload.select == "largest" else results)
    return EmbedResult(
        model_id=ctx.runtime.pipeline.model_id,
        faces=[
            EmbeddedFace(**dict(detected_face(r.face)), embedding=[float(x) for x in r.embedding.vector])
            for r in chosen
            if r.embedding is not None
        ],
    )


def _largest_embedded(ctx: JobContext, key: str, label: str, pipeline: Any = None) -> FaceResult:
    image = load_image(ctx, key)
    results = (pipeline or ctx.runtime.pipeline).process(image, embed=True, landmarks=False)
    if not results:
        raise JobFailure(ErrorCode.NO_FACE, f"no face was detected in {label}", {"image": label})
    return _shown(ctx, image, [largest(results)])[0]


def _shown(ctx: JobContext, image: Any, results: list[FaceResult]) -> list[FaceResult]:
    """``results`` with landmarks: placed only for the faces a response shows."""
    faces = ctx.runtime.pipeline.with_landmarks(image, [result.face for result in results])
    return [replace(result, face=face) for result, face in zip(results, faces, strict=True)]
