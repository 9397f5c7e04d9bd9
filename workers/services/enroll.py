"""Enrollment: one image → faces stored consistently across the three stores.

Write order, chosen so a crash at any point leaves nothing a client can see half-done:
1. face crops → object store (content-hash keys: rewriting is a no-op);
2. vectors → vector index (upsert by ids derived from the face ids);
3. rows → SQL in one transaction that also reserves face-set capacity. This commit is
   the moment the faces become visible: searches only return hits that have a row.
A crash before 3 leaves unreferenced crops/vectors, which `reconcile` removes; a redelivery
recomputes the same ids and every write above is idempotent.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from core.errors import ErrorCode
from core.payloads import EnrollOptions, EnrollPayload
from core.results import Box, DuplicateOf, EnrolledFace, EnrollResult, UnindexedFace
from infra.db.errors import CapacityExceeded
from infra.filter_columns import FilterColumns
from pipelines.compare import distance_to_similarity, scoring_for
from pipelines.engine import FaceResult
from pipelines.types import BoundingBox, DecodedImage, DetectedFace
from workers.errors import JobFailure
from workers.execution import JobContext
from workers.services.common import detected_face, load_image, map_concurrently, stable_face_id

CROP_MARGIN = 0.25
CROP_WRITERS = 4


@dataclass(frozen=True)
class EnrollTarget:
    project_id: str
    face_set_id: str
    image_key: str
    external_image_id: str
    external_fields: dict[str, Any]
    user_id: str | None
    filter_columns: FilterColumns
    model_id: str  # the face set's: its faces are embedded and searched with this model
    also_model_id: str | None = None  # a reindex in progress: faces are written with this model too


def enroll(ctx: JobContext, payload: EnrollPayload) -> EnrollResult:
    face_set = ctx.runtime.face_sets.get(payload.project_id, payload.face_set_id)
    if face_set is None:
        raise JobFailure(ErrorCode.FACE_SET_NOT_FOUND, "the face set no longer exists")
    image = load_image(ctx, payload.image_key)
    target = EnrollTarget(
        project_id=payload.project_id,
        face_set_id=payload.face_set_id,
        image_key=payload.image_key,
        external_image_id=payload.external_image_id,
        external_fields=dict(payload.external_fields),
        user_id=payload.user_id,
        filter_columns=FilterColumns.for_schema(face_set.external_fields),
        model_id=face_set.model_id,
        also_model_id=face_set.reindex_model_id,
    )
    unindexed: list[UnindexedFace] = []
    faces = enroll_image(ctx, target, image, payload.options, id_seed=ctx.job_id, unindexed=unindexed)
    return EnrollResult(
        face_set_id=face_set.id,
        face_set_name=face_set.name,
        faces=faces,
        unindexed=unindexed if payload.options.report_unindexed else None,
    )


def enroll_image(
    ctx: JobContext,
    target: EnrollTarget,
    image: DecodedImage,
    options: EnrollOptions,
    id_seed: str,
    unindexed: list[UnindexedFace] | None = None,
) -> list[EnrolledFace]:
    """Detect, embed, check and store every selected face of one image; returns them.
    With ``options.report_unindexed`` the faces left out are appended to ``unindexed``."""
    pipeline = ctx.runtime.pipeline_for(target.model_id)
    # Only the faces chosen are embedded (a group photo enrolled with select=largest or
    # max_faces embedded every face before).
    detected = [FaceResult(face) for face in pipeline.detect(image, landmarks=False)]
    planned = plan_faces(
        ctx, target, image, detected, options, id_seed, embed=lambda faces: pipeline.embed_detected([image], [faces])[0]
    )
    if unindexed is not None:
        unindexed.extend(planned.unindexed)
    if not planned.results:
        return []
    stored = store_planned(ctx, [planned])
    if not stored[0]:
        raise JobFailure(ErrorCode.FACE_SET_FULL, planned.refused or "the face set is full")
    return planned.rendered(ctx)


@dataclass
class PlannedFaces:
    """One image's faces, selected, checked and named, before anything is written."""

    target: EnrollTarget
    image: DecodedImage
    results: list[FaceResult]
    face_ids: list[str]
    duplicates: dict[int, DuplicateOf]
    options: EnrollOptions
    # Faces left out with their reasons (``options.report_unindexed``).
    unindexed: list[UnindexedFace] = field(default_factory=list)
    crop_keys: list[str | None] = field(default_factory=list)
    refused: str | None = None

    @property
    def save_crops(self) -> bool:
        return self.options.save_crop

    def rendered(self, ctx: JobContext) -> list[EnrolledFace]:
        """The stored faces as the result shows them (with their details when asked)."""
        target = self.target
        codes = self.options.detail_attributes
        details = (
            _details(ctx, self.image, self.results, codes)
            if codes is not None
            else [{} for _ in self.results]
        )
        return [
            EnrolledFace(
                face_id=face_id,
                external_image_id=target.external_image_id,
                external_fields=target.external_fields,
                bounding_box=Box.of(result.face.box),
                user_id=target.user_id,
                duplicate_of=self.duplicates.get(index),
                confidence=round(float(result.face.confidence), 6) if self.options.report_unindexed else None,
                **details[index],
            )
            for index, (face_id, result) in enumerate(zip(self.face_ids, self.results, strict=True))
        ]


def plan_faces(
    ctx: JobContext,
    target: EnrollTarget,
    image: DecodedImage,
    results: list[FaceResult],
    options: EnrollOptions,
    id_seed: str,
    embed: Callable[[list[DetectedFace]], list[FaceResult]] | None = None,
) -> PlannedFaces:
    """Select and check one image's faces (raising its per-image failure) and name them.
    Choosing needs no vectors, so ``results`` may come unembedded: ``embed`` then embeds the
    chosen faces (before the duplicate check, which needs them), or the caller does later."""
    results = _select(results, options)
    left_out: list[UnindexedFace] = []
    if options.report_unindexed:
        results, left_out = _left_out(ctx, image, results, options)
    elif options.quality_gate:
        results = _passing_quality(ctx, image, results)
    if embed is not None and results:
        results = embed([result.face for result in results])
    duplicates = _find_duplicates(ctx, target, results) if options.on_duplicate != "allow" and results else {}
    if duplicates and options.on_duplicate == "reject":
        raise JobFailure(
            ErrorCode.DUPLICATE_FACE,
            "the face set already holds this face",
            {"duplicates": [duplicate.to_json() for duplicate in duplicates.values()]},
        )
    face_ids = [
        stable_face_id(
            id_seed, target.image_key, index, r.face.box.x, r.face.box.y, r.face.box.width, r.face.box.height
        )
        for index, r in enumerate(results)
    ]
    return PlannedFaces(target, image, results, face_ids, duplicates, options, left_out)


def store_planned(ctx: JobContext, plans: Sequence[PlannedFaces], crops_stored: bool = False) -> list[bool]:
    """Write the planned faces of several images of one face set in the write order above:
    their crops (concurrently; already done with ``crops_stored``), then their vectors in one
    upsert, then their rows in one transaction. Returns, per plan, whether its faces were
    added; a plan that no longer fits the face set is refused (``refused`` says why) and its
    vectors are removed."""
    runtime = ctx.runtime
    model_id = plans[0].target.model_id
    if not crops_stored:
        store_crops(ctx, plans)
    vectors = {model_id: [r.embedding.vector for plan in plans for r in plan.results]}  # type: ignore[union-attr]
    also = plans[0].target.also_model_id
    if also and also != model_id:
        # A reindex is moving the face set: its new collection gets these faces too.
        embedder = runtime.pipeline_for(also).embedder
        vectors[also] = [
            e.vector
            for plan in plans
            for e in embedder.embed(plan.image.pixels, [r.face for r in plan.results])
        ]
    # The index's timestamp of the last write goes into the face set's row with the faces: a
    # search right after asks the index to be that current (infra.vector_index.freshness).
    written_ts = 0
    for written_model, model_vectors in vectors.items():
        records = [
            runtime.index_record(
                face_id=face_id,
                vector=vector,
                project_id=plan.target.project_id,
                face_set_id=plan.target.face_set_id,
                user_id=plan.target.user_id,
                fields=plan.target.external_fields,
                columns=plan.target.filter_columns.values(plan.target.external_fields),
            )
            for (plan, face_id), vector in zip(
                [(plan, face_id) for plan in plans for face_id in plan.face_ids],
                model_vectors,
                strict=True,
            )
        ]
        written_ts = max(written_ts, runtime.index.upsert(written_model, records))
    try:
        _add_rows(ctx, plans, written_ts)
        return [True for _ in plans]
    except CapacityExceeded as full:
        if len(plans) == 1:
            plans[0].refused = str(full)
            for written_model in vectors:
                runtime.index.delete(written_model, plans[0].face_ids)
            return [False]
    # The chunk does not fit as a whole: image by image, the first ones in, the rest refused.
    added = []
    for plan in plans:
        try:
            _add_rows(ctx, [plan], written_ts)
            added.append(True)
        except CapacityExceeded as full:
            plan.refused = str(full)
            for written_model in vectors:
                runtime.index.delete(written_model, plan.face_ids)
            added.append(False)
    return added


def _add_rows(ctx: JobContext, plans: Sequence[PlannedFaces], vector_written_ts: int) -> None:
    runtime = ctx.runtime
    first = plans[0].target
    runtime.faces.add_faces(
        project_id=first.project_id,
        face_set_id=first.face_set_id,
        vector_written_ts=vector_written_ts,
        faces=[
            runtime.face_row(
                face_id=face_id,
                external_image_id=plan.target.external_image_id,
                external_fields=plan.target.external_fields,
                user_id=plan.target.user_id,
                box=result.face.box,
                confidence=result.face.confidence,
                image_key=plan.target.image_key,
                crop_key=crop_key,
                model_id=plan.target.model_id,
            )
            for plan in plans
            for face_id, result, crop_key in zip(plan.face_ids, plan.results, plan.crop_keys, strict=True)
        ],
    )


def store_crops(ctx: JobContext, plans: Sequence[PlannedFaces]) -> None:
    """Every crop of the plans, written concurrently (each is one object-store round trip)."""
    for plan in plans:
        plan.crop_keys = [None] * len(plan.results)
    wanted = [(plan, index) for plan in plans if plan.save_crops for index in range(len(plan.results))]

    def store(job: tuple[PlannedFaces, int]) -> None:
        plan, index = job
        plan.crop_keys[index] = _store_crop(ctx, plan.image, plan.results[index].face.box)

    map_concurrently(store, wanted, CROP_WRITERS)


def _details(
    ctx: JobContext, image: DecodedImage, results: list[FaceResult], codes: list[int]
) -> list[dict[str, Any]]:
    """Landmarks, quality and the asked attributes of each enrolled face (``EnrolledFace``
    fields), from the image the job already holds (Rekognition's IndexFaces answers them
    with every face)."""
    shown = ctx.runtime.pipeline.with_landmarks(image, [result.face for result in results])
    return [
        {"landmarks": detected_face(face).landmarks, **ctx.runtime.analyzer(image, face, codes, True)}
        for face in shown
    ]


def _left_out(
    ctx: JobContext, image: DecodedImage, results: list[FaceResult], options: EnrollOptions
) -> tuple[list[FaceResult], list[UnindexedFace]]:
    """(faces to enroll, faces left out with their reasons): the quality gate first, then
    the smallest faces beyond ``max_faces`` (Rekognition's IndexFaces order)."""
    left_out: list[UnindexedFace] = []
    kept: list[FaceResult] = []
    for result in results:
        reasons = ctx.runtime.quality_gate(image, result.face) if options.quality_gate else []
        if reasons:
            left_out.append(_unindexed(result, reasons))
        else:
            kept.append(result)
    if options.max_faces is not None and len(kept) > options.max_faces:
        by_size = sorted(kept, key=lambda r: r.face.box.area, reverse=True)
        kept = by_size[: options.max_faces]
        left_out.extend(_unindexed(result, ["exceeds_max_faces"]) for result in by_size[options.max_faces :])
    return kept, left_out


def _unindexed(result: FaceResult, reasons: list[str]) -> UnindexedFace:
    return UnindexedFace(
        bounding_box=Box.of(result.face.box),
        confidence=round(float(result.face.confidence), 6),
        reasons=list(reasons),
    )


def _select(results: list[FaceResult], options: EnrollOptions) -> list[FaceResult]:
    if not results:
        raise JobFailure(ErrorCode.NO_FACE, "no face was detected in the image")
    if options.box is not None:
        x, y, width, height = options.box

        def offset(result: FaceResult) -> int:
            box = result.face.box
            return abs(box.x - x) + abs(box.y - y) + abs(box.width - width) + abs(box.height - height)

        return [min(results, key=offset)]
    if options.select == "largest":
        return [max(results, key=lambda r: r.face.box.area)]
    if options.select == "single" and len(results) > 1:
        raise JobFailure(
            ErrorCode.MULTIPLE_FACES,
            f"{len(results)} faces were detected where exactly one was expected",
            {"face_count": len(results)},
        )
    return results


def _passing_quality(ctx: JobContext, image: DecodedImage, results: list[FaceResult]) -> list[FaceResult]:
    verdicts = [ctx.runtime.quality_gate(image, r.face) for r in results]
    passing = [r for r, reasons in zip(results, verdicts, strict=True) if not reasons]
    if not passing:
        reasons = sorted({reason for found in verdicts for reason in found})
        raise JobFailure(
            ErrorCode.LOW_QUALITY,
            f"face rejected by the quality gate: {', '.join(reasons)}",
            {"reasons": reasons},
        )
    return passing


def _find_duplicates(
    ctx: JobContext, target: EnrollTarget, results: Sequence[FaceResult]
) -> dict[int, DuplicateOf]:
    """Index of each face in ``results`` that matches a face already in the set → that face."""
    runtime = ctx.runtime
    vectors = [r.embedding.vector for r in results if r.embedding is not None]
    hits = runtime.index.search(
        target.model_id,
        vectors,
        top_k=1,
        project_id=target.project_id,
        face_set_id=target.face_set_id,
        strong=True,
    )
    found: dict[int, DuplicateOf] = {}
    for index, best in enumerate(hits):
        match_distance = runtime.match_distance_for(target.model_id)
        # A model without a threshold cannot say what a duplicate is.
        if not best or match_distance is None or best[0].distance > match_distance:
            continue
        row = runtime.faces.get(target.project_id, target.face_set_id, best[0].face_id)
        if row is None:
            continue
        found[index] = DuplicateOf(
            face_id=row.face_id,
            external_image_id=row.external_image_id,
            user_id=row.user_id,
            similarity=distance_to_similarity(best[0].distance, scoring_for(target.model_id).calibration),
        )
    return found


def _store_crop(ctx: JobContext, image: DecodedImage, box: BoundingBox) -> str:
    pad_x, pad_y = int(box.width * CROP_MARGIN), int(box.height * CROP_MARGIN)
    left, top = max(0, box.x - pad_x), max(0, box.y - pad_y)
    right, bottom = min(image.width, box.right + pad_x), min(image.height, box.bottom + pad_y)
    buffer = io.BytesIO()
    Image.fromarray(image.pixels[top:bottom, left:right]).save(buffer, format="JPEG", quality=90)
    return str(ctx.runtime.store.put(buffer.getvalue(), "image/jpeg", prefix="crops"))
