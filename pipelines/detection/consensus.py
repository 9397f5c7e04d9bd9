"""Two detectors that cover each other's blind spots, merged by overlap.

dlib HOG is precise on frontal faces but misses faces with sunglasses, turned or tilted
heads, and faces under ~40 px; it also fires, weakly, on face-like textures. BlazeFace
finds those faces in ~30 ms but is less precise on its own. The consensus keeps:

- every primary face that the secondary confirms (their boxes overlap), or that the primary
  is sure of by itself (confidence at least ``primary_alone``);
- every secondary face that no primary face covers, when the secondary is sure of it
  (confidence at least ``secondary_alone``).

Thresholds were chosen on ``../shared/data/faces/_misc`` (docs/PIPELINE.md, "Detection").
"""

from __future__ import annotations

from pipelines.detection.base import Detector
from pipelines.types import BoundingBox, DetectedFace, RGBImage


def overlap_of_smaller(first: BoundingBox, second: BoundingBox) -> float:
    """Intersection over the smaller box's area: 1 when one box lies inside the other,
    which is how boxes of the same face from two detectors (of different styles) relate."""
    width = min(first.right, second.right) - max(first.x, second.x)
    height = min(first.bottom, second.bottom) - max(first.y, second.y)
    if width <= 0 or height <= 0:
        return 0.0
    smaller = min(first.area, second.area)
    return (width * height) / smaller if smaller else 0.0


class ConsensusDetector:
    def __init__(
        self,
        primary: Detector,
        secondary: Detector,
        *,
        primary_alone: float = 0.55,
        secondary_alone: float = 0.6,
        same_face_overlap: float = 0.3,
    ) -> None:
        self.primary = primary
        self.secondary = secondary
        self.primary_alone = primary_alone
        self.secondary_alone = secondary_alone
        self.same_face_overlap = same_face_overlap
        self.name = f"{primary.name}|{secondary.name}"

    def detect(self, image: RGBImage) -> list[DetectedFace]:
        primary_faces = self.primary.detect(image)
        secondary_faces = self.secondary.detect(image)
        kept = [
            face
            for face in primary_faces
            if face.confidence >= self.primary_alone or self._covered(face.box, secondary_faces)
        ]
        kept.extend(
            face
            for face in secondary_faces
            if face.confidence >= self.secondary_alone and not self._covered(face.box, primary_faces)
        )
        return kept

    def _covered(self, box: BoundingBox, faces: list[DetectedFace]) -> bool:
        return any(overlap_of_smaller(box, other.box) >= self.same_face_overlap for other in faces)
