"""Face detectors. Each is cheap to construct: models load on the first ``detect``."""

from pipelines.detection.base import Detector, FallbackDetector, clipped_box, drop_small_faces

__all__ = ["Detector", "FallbackDetector", "clipped_box", "drop_small_faces"]
