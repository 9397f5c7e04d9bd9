"""Face analysis: quality, head pose, direction and seed 004 attributes (see faces.py for
the facade the worker calls, and docs/ANALYSIS.md for what each measure is worth)."""

from pipelines.analysis.attributes import (
    AgeEstimate,
    DressEstimate,
    GenderEstimate,
    Reliability,
    SmileEstimate,
)
from pipelines.analysis.faces import (
    SEED_ATTRIBUTE_CODES,
    Attribute,
    FaceAnalysis,
    FaceAnalyzer,
    QualityGate,
    analyze_faces,
    parse_seed_attributes,
)
from pipelines.analysis.pose import DirectionBounds, FaceDirection, HeadPose
from pipelines.analysis.quality import (
    CHECK_RESULT_NO_FACE,
    CHECK_RESULT_OK,
    FaceQuality,
    QualityIssue,
    QualityThresholds,
    check_result,
)

__all__ = [
    "CHECK_RESULT_NO_FACE",
    "CHECK_RESULT_OK",
    "SEED_ATTRIBUTE_CODES",
    "AgeEstimate",
    "Attribute",
    "DirectionBounds",
    "DressEstimate",
    "FaceAnalysis",
    "FaceAnalyzer",
    "FaceDirection",
    "FaceQuality",
    "GenderEstimate",
    "HeadPose",
    "QualityGate",
    "QualityIssue",
    "QualityThresholds",
    "Reliability",
    "SmileEstimate",
    "analyze_faces",
    "check_result",
    "parse_seed_attributes",
]
