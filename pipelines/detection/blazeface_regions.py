"""Where the fast BlazeFace path looks besides the whole photo: overlapping tiles, where
small faces are larger in the network's input, and a mirror-padded copy of the photo, where
a face cut by the frame is completed by its own reflection.

Pure geometry on numpy arrays: ``blazeface`` decides when to look, this module where.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from pipelines.types import RGBImage

Region = tuple[int, int, int, int]
"""(top, left, bottom, right) in the pixels of the image it was cut from."""


def grid(height: int, width: int, rows: int, columns: int, overlap: float) -> list[Region]:
    """``rows`` x ``columns`` tiles covering the image, each ``overlap`` times its share of
    it (so that a face on a seam lies whole in one tile), spread evenly from edge to edge."""
    tile_height = min(height, math.ceil(height / rows * overlap))
    tile_width = min(width, math.ceil(width / columns * overlap))
    tops = [round(row * (height - tile_height) / (rows - 1)) if rows > 1 else 0 for row in range(rows)]
    lefts = [
        round(column * (width - tile_width) / (columns - 1)) if columns > 1 else 0
        for column in range(columns)
    ]
    return [(top, left, top + tile_height, left + tile_width) for top in tops for left in lefts]


def fine_grid(height: int, width: int, tile_side: float, overlap: float, minimum: int) -> list[Region]:
    """Tiles of at most ~``tile_side * overlap`` pixels a side: as many per axis as that side
    needs, and at least ``minimum``."""
    rows = max(minimum, math.ceil(height / tile_side))
    columns = max(minimum, math.ceil(width / tile_side))
    return grid(height, width, rows, columns, overlap)


def touches_border(
    boxes: list[tuple[float, float, float, float]], height: int, width: int, margin: float
) -> bool:
    """Whether a (left, top, right, bottom) box comes within ``margin`` pixels of an edge."""
    return any(
        left <= margin or top <= margin or right >= width - margin or bottom >= height - margin
        for left, top, right, bottom in boxes
    )


def share_inside(left: float, top: float, right: float, bottom: float, height: int, width: int) -> float:
    """The share of a box's area that lies inside a ``width`` x ``height`` image."""
    area = (right - left) * (bottom - top)
    if area <= 0:
        return 0.0
    inside_width = max(0.0, min(right, width) - max(left, 0.0))
    inside_height = max(0.0, min(bottom, height) - max(top, 0.0))
    return inside_width * inside_height / area


def mirror_padded(image: RGBImage, pad: int) -> RGBImage:
    """``image`` with ``pad`` pixels on every side, mirrored from its border (without
    repeating the edge row). A face cut down its middle by the frame comes out whole and
    symmetric; a constant or replicated border leaves it half a face."""
    return np.asarray(cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REFLECT_101), dtype=np.uint8)
