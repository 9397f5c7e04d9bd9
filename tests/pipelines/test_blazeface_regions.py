"""Where the fast BlazeFace path looks besides the whole photo (pure geometry)."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.detection.blazeface_regions import fine_grid, grid, mirror_padded, share_inside, touches_border


@pytest.mark.parametrize(
    ("height", "width", "rows", "columns"), [(375, 500, 2, 2), (960, 1280, 2, 3), (100, 700, 1, 3)]
)
def test_tiles_cover_the_image_edge_to_edge_and_overlap(
    height: int, width: int, rows: int, columns: int
) -> None:
    tiles = grid(height, width, rows, columns, 1.25)

    covered = np.zeros((height, width), bool)
    for top, left, bottom, right in tiles:
        assert 0 <= top < bottom <= height and 0 <= left < right <= width
        covered[top:bottom, left:right] = True
    assert len(tiles) == rows * columns and covered.all()
    if columns > 1:
        assert tiles[0][3] > tiles[1][1], "neighbours overlap, so a face on a seam lies whole in one"


def test_fine_tiles_are_no_larger_than_asked_and_never_fewer_than_the_minimum() -> None:
    assert len(fine_grid(375, 500, 512, 1.25, 2)) == 4
    tiles = fine_grid(1200, 1600, 512, 1.25, 2)
    assert len(tiles) == 3 * 4
    assert all(bottom - top <= 640 and right - left <= 640 for top, left, bottom, right in tiles)


def test_a_box_touches_the_border_within_the_margin() -> None:
    assert touches_border([(5.0, 50.0, 40.0, 90.0)], 100, 200, 5.0)
    assert touches_border([(50.0, 50.0, 196.0, 90.0)], 100, 200, 5.0)
    assert not touches_border([(50.0, 50.0, 100.0, 90.0)], 100, 200, 5.0)
    assert not touches_border([], 100, 200, 5.0)


def test_the_share_inside_of_a_box_cut_by_the_frame() -> None:
    assert share_inside(10, 10, 30, 30, 100, 100) == 1.0
    assert share_inside(-10, 10, 10, 30, 100, 100) == pytest.approx(0.5)
    assert share_inside(-30, 10, -10, 30, 100, 100) == 0.0
    assert share_inside(5, 5, 5, 9, 100, 100) == 0.0


def test_mirror_padding_reflects_the_border_without_repeating_the_edge() -> None:
    image = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)

    padded = mirror_padded(image, 2)

    assert padded.shape == (8, 9, 3)
    np.testing.assert_array_equal(padded[2:6, 2:7], image)
    np.testing.assert_array_equal(padded[2:6, 1], image[:, 1])
    np.testing.assert_array_equal(padded[2:6, 0], image[:, 2])
