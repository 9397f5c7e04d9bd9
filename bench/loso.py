"""Leave-one-source-out choice of a similarity calibration and a match threshold.

The shared pairs come from several source repositories (the folder prefix before the first
``-``: deepface, face_recognition, compreface, ...), and every pair lies within one source.
A rule that fits the calibration and picks a threshold is applied to all sources but one and
judged on the one left out; every fold is reported. The rule with the best held-out accuracy
(mean over folds, each source counting once, since the point is the next, unseen source) is
then applied to all pairs to give the shipped values.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pipelines.calibration import (
    Floats,
    Labels,
    accuracy_at,
    best_accuracy_threshold,
    expected_calibration_error,
    fit_logistic,
    log_loss,
    probability,
    rates_at,
)
from pipelines.compare import SimilarityCalibration


def source_of(path: str) -> str:
    return path.split("/", 1)[0].split("-", 1)[0]


def source_balanced_weights(sources: np.ndarray) -> Floats:  # type: ignore[type-arg]
    """Each source's pairs together weigh as much as any other source's."""
    names, counts = np.unique(sources, return_counts=True)
    per_pair = {name: 1.0 / count for name, count in zip(names, counts, strict=True)}
    return np.array([per_pair[s] for s in sources], np.float64)


@dataclass(frozen=True)
class Rule:
    """How a calibration and a threshold are fitted from training pairs."""

    name: str
    balanced: bool  # weigh sources equally (else every pair equally)
    threshold_from: str  # "accuracy": the best training accuracy; "midpoint": P(same) = 0.5

    def fit(self, d: Floats, same: Labels, sources: np.ndarray) -> tuple[SimilarityCalibration, float]:  # type: ignore[type-arg]
        weights = source_balanced_weights(sources) if self.balanced else None
        calibration = fit_logistic(d, same, weights)
        if self.threshold_from == "midpoint":
            return calibration, calibration.midpoint
        return calibration, best_accuracy_threshold(d, same, weights)


TEMPER_GRID = np.round(np.arange(0.10, 1.501, 0.05), 2)
"""A fit on some sources is steeper than the next source bears out (leaving deepface out gives
three times the steepness): every rule's steepness is scaled by the factor from this grid that
minimises the held-out log loss over all folds."""

RULES = (
    Rule("pairs, best accuracy", balanced=False, threshold_from="accuracy"),
    Rule("sources, best accuracy", balanced=True, threshold_from="accuracy"),
    Rule("sources, P=0.5", balanced=True, threshold_from="midpoint"),
)


@dataclass(frozen=True)
class Fold:
    held_out: str
    pairs: int
    genuine: int
    calibration: SimilarityCalibration
    threshold: float
    accuracy: float
    far: float
    frr: float
    ece: float
    shipped_ece: float | None  # dlib-resnet-v1's shipped calibration, on the same held-out pairs


@dataclass(frozen=True)
class RuleResult:
    rule: Rule
    folds: list[Fold]
    macro_accuracy: float  # mean over folds
    pooled_accuracy: float  # every held-out pair once
    pooled_ece: float
    pooled_log_loss: float
    temper: float  # the factor on every fold's steepness that minimises the pooled held-out log loss
    tempered_ece: float
    tempered_log_loss: float
    final_calibration: SimilarityCalibration  # the rule applied to every pair
    final_threshold: float


def evaluate_rule(rule: Rule, d: Floats, same: Labels, sources: np.ndarray,  # type: ignore[type-arg]
                  shipped: SimilarityCalibration | None = None) -> RuleResult:
    folds: list[Fold] = []
    held_midpoint = np.zeros(len(d))
    held_steepness = np.zeros(len(d))
    held_probability = np.zeros(len(d))
    held_correct = np.zeros(len(d), bool)
    for source in sorted(set(sources)):
        test = sources == source
        calibration, threshold = rule.fit(d[~test], same[~test], sources[~test])
        p = probability(d[test], calibration)
        held_probability[test] = p
        held_midpoint[test], held_steepness[test] = calibration.midpoint, calibration.steepness
        held_correct[test] = (d[test] <= threshold) == same[test]
        far, frr = rates_at(d[test], same[test], threshold)
        folds.append(Fold(
            held_out=str(source), pairs=int(test.sum()), genuine=int(same[test].sum()), calibration=calibration,
            threshold=threshold, accuracy=accuracy_at(d[test], same[test], threshold), far=far, frr=frr,
            ece=expected_calibration_error(p, same[test]),
            shipped_ece=None if shipped is None else expected_calibration_error(probability(d[test], shipped),
                                                                                 same[test]),
        ))
    def tempered(factor: float) -> Floats:
        exponent = np.clip(factor * held_steepness * (np.where(np.isfinite(d), d, 1e9) - held_midpoint), -700, 700)
        return np.asarray(1.0 / (1.0 + np.exp(exponent)), np.float64)

    temper = min(TEMPER_GRID, key=lambda f: log_loss(tempered(float(f)), same))
    fitted, final_threshold = rule.fit(d, same, sources)
    return RuleResult(
        rule=rule, folds=folds, macro_accuracy=float(np.mean([f.accuracy for f in folds])),
        pooled_accuracy=float(held_correct.mean()), pooled_ece=expected_calibration_error(held_probability, same),
        pooled_log_loss=log_loss(held_probability, same), temper=float(temper),
        tempered_ece=expected_calibration_error(tempered(float(temper)), same),
        tempered_log_loss=log_loss(tempered(float(temper)), same),
        final_calibration=SimilarityCalibration(fitted.midpoint, round(float(temper) * fitted.steepness, 6)),
        final_threshold=final_threshold,
    )


def choose(results: list[RuleResult], key: Callable[[RuleResult], float] | None = None) -> RuleResult:
    """Best held-out accuracy (mean over sources), then lower held-out log loss."""
    return max(results, key=key or (lambda r: (round(r.macro_accuracy, 6), -r.tempered_log_loss)))  # type: ignore[arg-type,return-value]


def fold_table(result: RuleResult) -> list[str]:
    lines = ["| held-out source | pairs (same) | fitted m | fitted k | threshold | accuracy | FAR | FRR "
             "| ECE (fit) | ECE (v1's shipped fit) |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for f in result.folds:
        shipped = "" if f.shipped_ece is None else f"{f.shipped_ece:.4f}"
        lines.append(f"| {f.held_out} | {f.pairs} ({f.genuine}) | {f.calibration.midpoint:.4f} "
                     f"| {f.calibration.steepness:.1f} | {f.threshold:.4f} | {f.accuracy:.4f} | {_rate(f.far)} "
                     f"| {_rate(f.frr)} | {f.ece:.4f} | {shipped} |")
    return lines


def _rate(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.4f}"
