"""Head pose (yaw, pitch, roll) from 68 landmarks, and the face direction seed 003 asks for.

Sign convention (the AFLW2000-3D one, so that ``../shared/data/faces/_misc/pose_labels.csv``
compares directly), all in degrees, for a face seen in an unmirrored image:

* yaw > 0: the nose points towards the image's left (the subject turned to their own right);
* pitch > 0: the face looks up (chin raised);
* roll > 0: the face's vertical axis turns clockwise in the image (the top of the head
  leans towards the image's right).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

from pipelines.analysis.landmarks import Landmarks68

# A generic head in millimetres, in camera-like axes (x to the image's right, y down,
# z away from the camera), nose tip at the origin. Frontal face = identity rotation.
# The six points of the widely used learnopencv model: nose tip, chin, outer eye corners
# and mouth corners.
_MODEL_POINTS: Final = np.array(
    [
        (0.0, 0.0, 0.0),  # 30 nose tip
        (0.0, 330.0, 65.0),  # 8 chin
        (-225.0, -170.0, 135.0),  # 36 outer corner of the image-left eye
        (225.0, -170.0, 135.0),  # 45 outer corner of the image-right eye
        (-150.0, 150.0, 125.0),  # 48 image-left mouth corner
        (150.0, 150.0, 125.0),  # 54 image-right mouth corner
    ],
    dtype=np.float64,
)
_LANDMARK_INDICES: Final = (30, 8, 36, 45, 48, 54)
_INITIAL_DISTANCE: Final = 3000.0  # model units in front of the camera


@dataclass(frozen=True, slots=True)
class HeadPose:
    yaw: float
    pitch: float
    roll: float


class FaceDirection(IntEnum):
    """Seed 003 ``face_direction`` codes."""

    FRONT = 0
    LEFT = 1
    RIGHT = 2
    UP = 3
    DOWN = 4


@dataclass(frozen=True, slots=True)
class DirectionBounds:
    """A face is FRONT while |yaw| <= max_front_yaw and |pitch| <= max_front_pitch;
    otherwise the axis that exceeds its bound by the larger margin (relative to the bound)
    names the direction."""

    max_front_yaw: float = 25.0
    max_front_pitch: float = 15.0


def estimate_head_pose(points: Landmarks68, image_width: int, image_height: int) -> HeadPose:
    """Head pose by cv2.solvePnP of a generic 3D head against six landmarks.

    The camera is a pinhole with the focal length equal to the image's larger side and
    the principal point at its centre; real intrinsics are unknown for uploaded photos.
    """
    image_points = points[list(_LANDMARK_INDICES)].astype(np.float64)
    focal = float(max(image_width, image_height))
    camera = np.array(
        [[focal, 0.0, image_width / 2.0], [0.0, focal, image_height / 2.0], [0.0, 0.0, 1.0]],
        dtype=np.float64,
    )
    # Starting the iterative solver from a frontal head in front of the camera keeps it
    # out of the mirrored (roll ~ 180 degrees) minimum it otherwise finds on profiles.
    ok, rotation_vector, _ = cv2.solvePnP(
        _MODEL_POINTS,
        image_points,
        camera,
        np.zeros(4),
        rvec=np.zeros((3, 1)),
        tvec=np.array([[0.0], [0.0], [_INITIAL_DISTANCE]]),
        useExtrinsicGuess=True,
        flags=cv2.SOLVEPNP_ITERATIVE,
    )
    if not ok:
        return HeadPose(0.0, 0.0, 0.0)
    rotation, _ = cv2.Rodrigues(rotation_vector)
    return _aflw_angles(np.asarray(rotation, dtype=np.float64))


def _aflw_angles(rotation: npt.NDArray[np.float64]) -> HeadPose:
    # R = Rz(roll) @ Ry(yaw) @ Rx(pitch) in camera axes (y down), decomposed directly.
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, -rotation[2, 0]))))
    pitch = math.degrees(math.atan2(rotation[2, 1], rotation[2, 2]))
    roll = math.degrees(math.atan2(rotation[1, 0], rotation[0, 0]))
    # In these axes a positive rotation about x lowers the chin; AFLW2000 calls that
    # negative pitch, so it flips. Yaw and roll already agree with the AFLW2000 labels
    # (checked in tests/analysis/test_pose.py).
    return HeadPose(yaw=yaw, pitch=-pitch, roll=roll)


def face_direction(pose: HeadPose, bounds: DirectionBounds = DirectionBounds()) -> FaceDirection:
    """Seed 003 direction. LEFT means the face is turned towards the image's left (yaw > 0,
    the subject's own right), as the InspireFace ``left_face`` sample is named; UP means
    chin up (pitch > 0)."""
    yaw_excess = abs(pose.yaw) / bounds.max_front_yaw
    pitch_excess = abs(pose.pitch) / bounds.max_front_pitch
    if yaw_excess <= 1.0 and pitch_excess <= 1.0:
        return FaceDirection.FRONT
    if yaw_excess >= pitch_excess:
        return FaceDirection.LEFT if pose.yaw > 0 else FaceDirection.RIGHT
    return FaceDirection.UP if pose.pitch > 0 else FaceDirection.DOWN
