"""face-detect attributes in the FRS seed's shape.

The workers' analysis is richer than the seed: each estimate carries a confidence and a
``reliability`` (``measured``, ``heuristic`` or ``unsupported``). The native API answers
the seed's fields (``headpose.{pitch,roll,yaw}_angle``, ``gender``, ``age``, ``smile``,
``dress.{glass,hat}`` and ``landmark.<contour>.point``) and keeps the full analysis under
``attributes_detail``, so a client can tell a measured value from an unsupported one.
"""

from __future__ import annotations

from typing import Any

from core.results import DetectedFace

HEADPOSE_AXES = ("pitch", "roll", "yaw")


def _value(estimate: Any) -> Any:
    return estimate.get("value") if isinstance(estimate, dict) else estimate


def seed_face(face: DetectedFace) -> dict[str, Any]:
    """One detected face with its ``attributes`` rendered as the seed shows them."""
    rendered = face.to_json()
    analysis = rendered.pop("attributes", None)
    if not isinstance(analysis, dict):
        return face.to_json()
    attributes: dict[str, Any] = {}
    for name, estimate in analysis.items():
        if name == "headpose" and isinstance(estimate, dict):
            attributes["headpose"] = {f"{axis}_angle": estimate.get(axis) for axis in HEADPOSE_AXES}
        elif name == "dress" and isinstance(estimate, dict):
            attributes["dress"] = {"glass": estimate.get("glass"), "hat": estimate.get("hat")}
        elif name in ("gender", "age", "smile"):
            attributes[name] = _value(estimate)
        elif name == "landmarks" and isinstance(estimate, dict):
            rendered["landmark"] = {group: {"point": points} for group, points in estimate.items()}
        else:
            attributes[name] = estimate
    if attributes:
        rendered["attributes"] = attributes
    rendered["attributes_detail"] = analysis
    return rendered
