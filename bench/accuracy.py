"""Verification accuracy and calibration on every pair of ../shared/data/faces/pairs.csv.

In one run: the reference dlib loop (bench.common.ReferenceDlibLoop), today's default
(``dlib-resnet-v1`` at its shipped threshold and calibration) and every candidate
embedding of the same ResNet (bench.embedding_variants), each at its shipped threshold and
at its best one, with TAR at FAR 1e-2 and 1e-3. Each candidate's calibration and threshold
are chosen by leave-one-source-out validation (bench.loso), every fold reported with its
expected calibration error (ECE). Each image is detected once by the default detector; a
pair whose image gave no face counts as "different".

    .venv/bin/python -m bench.accuracy [--no-reference] [--json bench/results/accuracy.json]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.common import FACES, REPO, Pair, ReferenceDlibLoop, load_pairs, machine_description, pair_images
from bench.common import pin_to_one_core, progress, quiet_stderr

import numpy as np  # noqa: E402  (after bench.common pins thread counts)

from bench.embedding_variants import VARIANTS, FaceChips, face_chips  # noqa: E402
from bench.loso import RULES, RuleResult, choose, evaluate_rule, fold_table, source_of  # noqa: E402
from pipelines.calibration import (  # noqa: E402
    best_accuracy_threshold,
    expected_calibration_error,
    probability,
    rates_at,
    tar_at_far,
)

Vector = np.ndarray[Any, Any]
PREVIOUS_MATCH_DISTANCE = 0.58
"""dlib-resnet-v1's threshold before leave-one-source-out selection (best on all pairs)."""
MODELS = REPO / ".facefleet" / "models"


@dataclass
class Report:
    system: str
    shipped_threshold: float
    accuracy_at_shipped: float
    far_at_shipped: float
    frr_at_shipped: float
    best_threshold: float
    best_accuracy: float
    tar_at_far_1e2: float
    tar_at_far_1e3: float
    failed_images: int
    ms: float  # per image (systems) or per face (embedding candidates)


def distances(pairs: list[Pair], vectors: dict[str, Vector | None]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Distance per pair (inf where an image has no face) and the same/different labels."""
    values = []
    for pair in pairs:
        a, b = vectors[pair.path_a], vectors[pair.path_b]
        values.append(np.inf if a is None or b is None else float(np.linalg.norm(a - b)))
    return np.array(values), np.array([p.same for p in pairs])


def report(system: str, d: np.ndarray[Any, Any], same: np.ndarray[Any, Any], shipped: float, failed: int,
           ms: float) -> Report:
    far, frr = rates_at(d, same, shipped)
    best = best_accuracy_threshold(d, same)
    return Report(system, shipped, float(np.mean((d <= shipped) == same)), far, frr, best,
                  float(np.mean((d <= best) == same)), tar_at_far(d, same, 1e-2), tar_at_far(d, same, 1e-3), failed,
                  ms)


@dataclass
class PipelineRun:
    vectors: dict[str, Vector | None]
    ms: float  # per image, decode included


def pipeline_runs(images: list[str], models: list[str]) -> tuple[dict[str, FaceChips | None], dict[str, PipelineRun]]:
    """The worker pipeline (ONNX engines) with each of ``models`` on every photo, timed
    interleaved (the order rotating photo by photo), and the candidates' chips of the largest
    face the first model's pass found."""
    from pipelines.catalog import build_pipeline, with_model
    from pipelines.engine import largest_face
    from pipelines.image import ImageLimits, decode_image

    base = build_pipeline(embedding_backend="onnx", backend_options={"model_path": MODELS / "dlib_resnet_v1.onnx"},
                          blazeface_onnx=MODELS / "blazeface_back.onnx")
    pipelines = {model: with_model(base, model) for model in models}
    limits = ImageLimits()
    chips: dict[str, FaceChips | None] = {}
    runs = {model: PipelineRun({}, 0.0) for model in models}
    for pipeline in pipelines.values():  # load models untimed
        pipeline.process(decode_image((FACES / images[0]).read_bytes(), limits))
    for index, path in enumerate(images):
        order = models[index % len(models):] + models[: index % len(models)]
        for model in order:
            started = time.perf_counter()
            image = decode_image((FACES / path).read_bytes(), limits)
            results = pipelines[model].process(image, landmarks=False)
            runs[model].ms += time.perf_counter() - started
            face = largest_face(results) if results else None
            runs[model].vectors[path] = face.embedding.vector if face and face.embedding else None
            if model == models[0]:
                chips[path] = None if face is None else face_chips(
                    image.pixels, (face.face.box.x, face.face.box.y, face.face.box.right, face.face.box.bottom))
    for run in runs.values():
        run.ms = run.ms / len(images) * 1000
    return chips, runs


def run_variants(chips: dict[str, FaceChips | None]) -> dict[str, tuple[dict[str, Vector | None], float]]:
    """Every candidate's vectors and its network time per face (one face per call, as a
    one-face photo costs), the candidates interleaved photo by photo so drift hits all alike."""
    from pipelines.embedding.dlib_onnx import OnnxDescriptorBackend

    backend = OnnxDescriptorBackend(MODELS / "dlib_resnet_v1.onnx", intra_op_threads=1)
    found = {path: c for path, c in chips.items() if c is not None}
    out: dict[str, dict[str, Vector | None]] = {name: {p: None for p in chips} for name in VARIANTS}
    seconds = dict.fromkeys(VARIANTS, 0.0)
    for _, how in VARIANTS.values():
        how(backend, next(iter(found.values())))  # warm
    for index, (path, face) in enumerate(found.items()):
        names = list(VARIANTS)
        names = names[index % len(names):] + names[: index % len(names)]
        for name in names:
            started = time.perf_counter()
            out[name][path] = VARIANTS[name][1](backend, face)[0]
            seconds[name] += time.perf_counter() - started
    return {name: (out[name], seconds[name] / len(found) * 1000) for name in VARIANTS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-reference", action="store_true", help="skip the (slow) reference dlib loop")
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "results" / "accuracy.json")
    args = parser.parse_args()
    cpu = pin_to_one_core()

    from pipelines.catalog import DEFAULT_EMBEDDER, DEFAULT_FACE_SET_MODEL
    from pipelines.compare import DLIB_RESNET_CALIBRATION, MODEL_SCORES

    pairs = load_pairs()
    images = pair_images(pairs)
    sources = np.array([source_of(p.path_a) for p in pairs])
    with quiet_stderr():
        chips, runs = pipeline_runs(images, [DEFAULT_EMBEDDER, DEFAULT_FACE_SET_MODEL])
    progress("pipelines done")
    variants = run_variants(chips)
    progress("candidates done")

    systems: list[Report] = []
    if not args.no_reference:
        reference = ReferenceDlibLoop()
        ref_vectors: dict[str, Vector | None] = {}
        started = time.perf_counter()
        for path in images:
            found = reference.encodings(reference.load(FACES / path))
            ref_vectors[path] = found[0] if found else None
        ref_ms = (time.perf_counter() - started) / len(images) * 1000
        d, same = distances(pairs, ref_vectors)
        systems.append(report(reference.name, d, same, 0.6, sum(v is None for v in ref_vectors.values()), ref_ms))
        progress("reference done")
    d_today, same = distances(pairs, runs[DEFAULT_EMBEDDER].vectors)
    failed = sum(v is None for v in runs[DEFAULT_EMBEDDER].vectors.values())
    systems.append(report(f"before: {DEFAULT_EMBEDDER} at the old 0.58", d_today, same, PREVIOUS_MATCH_DISTANCE, failed,
                          runs[DEFAULT_EMBEDDER].ms))
    for model in (DEFAULT_EMBEDDER, DEFAULT_FACE_SET_MODEL):
        d, _ = distances(pairs, runs[model].vectors)
        label = "new default for face sets" if model == DEFAULT_FACE_SET_MODEL else "raw descriptor (seeds, old sets)"
        systems.append(report(f"{label}: {model}", d, same, MODEL_SCORES[model].match_distance,
                              sum(v is None for v in runs[model].vectors.values()), runs[model].ms))

    candidates: list[tuple[str, int, float, RuleResult, list[RuleResult], Report]] = []
    for name, (vectors, ms) in variants.items():
        d, _ = distances(pairs, vectors)
        results = [evaluate_rule(rule, d, same, sources, DLIB_RESNET_CALIBRATION) for rule in RULES]
        chosen = choose(results)
        candidates.append((name, VARIANTS[name][0], ms, chosen, results,
                           report(name, d, same, chosen.final_threshold, failed, ms)))

    print(f"machine: {machine_description()}; pinned to CPU {cpu}")
    print(f"pairs: {len(pairs)} ({int(same.sum())} same) from {len(set(sources))} sources, images: {len(images)}, "
          "the reference at dlib's documented 0.6\n")
    print("| system | shipped threshold | accuracy | FAR | FRR | best threshold | accuracy @best | TAR@FAR=1e-2 "
          "| TAR@FAR=1e-3 | images without face | ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in systems + [c[5] for c in candidates]:
        print(f"| {r.system} | {r.shipped_threshold:.3f} | {r.accuracy_at_shipped:.4f} | {r.far_at_shipped:.4f} "
              f"| {r.frr_at_shipped:.4f} | {r.best_threshold:.3f} | {r.best_accuracy:.4f} | {r.tar_at_far_1e2:.4f} "
              f"| {r.tar_at_far_1e3:.4f} | {r.failed_images} | {r.ms:.1f} |")
    print("\n(ms: per image, decode included, for the systems; network per face for the candidates; a candidate's "
          "shipped threshold is the one its leave-one-source-out rule gives on all pairs)\n")
    print("leave-one-source-out, per candidate and rule (held-out accuracy: mean over sources; pooled: every pair):\n")
    print("| candidate | passes | net ms/face | rule | held-out accuracy | pooled accuracy | pooled ECE "
          "| pooled log loss | temper | tempered ECE | tempered log loss | final m | final k | final threshold |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, passes, ms, chosen, results, _ in candidates:
        for r in results:
            mark = " **(chosen)**" if r is chosen else ""
            print(f"| {name} | {passes} | {ms:.2f} | {r.rule.name}{mark} | {r.macro_accuracy:.4f} "
                  f"| {r.pooled_accuracy:.4f} | {r.pooled_ece:.4f} | {r.pooled_log_loss:.4f} | {r.temper:.2f} "
                  f"| {r.tempered_ece:.4f} | {r.tempered_log_loss:.4f} "
                  f"| {r.final_calibration.midpoint:.4f} | {r.final_calibration.steepness:.2f} "
                  f"| {r.final_threshold:.4f} |")
    shipped_p = probability(d_today, DLIB_RESNET_CALIBRATION)
    print(f"\ndlib-resnet-v1's shipped calibration (m {DLIB_RESNET_CALIBRATION.midpoint}, k {DLIB_RESNET_CALIBRATION.steepness}, "
          f"fitted on all pairs, so not held out): ECE {expected_calibration_error(shipped_p, same):.4f}")
    for name, _, _, chosen, _, _ in candidates:
        print(f"\nfolds, {name}, rule '{chosen.rule.name}':\n")
        print("\n".join(fold_table(chosen)))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({
        "machine": machine_description(),
        "systems": [asdict(r) for r in systems],
        "candidates": [{"name": n, "passes": p, "ms_per_face": ms, "report": asdict(rep),
                        "rules": [{"rule": r.rule.name, "macro_accuracy": r.macro_accuracy,
                                   "pooled_accuracy": r.pooled_accuracy, "pooled_ece": r.pooled_ece,
                                   "temper": r.temper, "tempered_ece": r.tempered_ece,
                                   "final": asdict(r.final_calibration), "final_threshold": r.final_threshold,
                                   "folds": [asdict(f) for f in r.folds]} for r in results]}
                       for n, p, ms, _, results, rep in candidates],
    }, indent=2, default=str))


if __name__ == "__main__":
    main()
