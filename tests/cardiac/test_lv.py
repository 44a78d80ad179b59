"""LV measurements from masks: area, long axis, discs, volumes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rtecho.cardiac import (
    area_length_volume,
    disc_volume,
    ejection_fraction,
    largest_component,
    mean_ef,
    measure_lv,
)
from rtecho.errors import FrameError


def _ellipse(h: int, w: int, cx: float, cy: float, a: float, b: float, rot_deg: float = 0.0) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w].astype(float)
    c, s = math.cos(math.radians(rot_deg)), math.sin(math.radians(rot_deg))
    u = (xx - cx) * c + (yy - cy) * s
    v = -(xx - cx) * s + (yy - cy) * c
    return (u / a) ** 2 + (v / b) ** 2 <= 1


@pytest.mark.parametrize("rot", [0.0, 30.0, 90.0])
def test_area_length_and_disc_volume_of_an_ellipse(rot):
    a, b = 14.0, 32.0  # half-width, half-length (px)
    m = _ellipse(112, 112, 56, 56, a, b, rot)
    s = measure_lv(m)
    assert s.area == pytest.approx(math.pi * a * b, rel=0.02)
    assert s.length == pytest.approx(2 * b, abs=1.5)
    # a prolate spheroid: both single-plane methods give 4/3 pi a^2 b for an exact ellipse
    true_v = 4.0 / 3.0 * math.pi * a * a * b
    assert area_length_volume(s.area, s.length) == pytest.approx(true_v, rel=0.05)
    assert disc_volume(s.diameters, s.length) == pytest.approx(true_v, rel=0.05)
    assert s.diameters.sum() * s.length / len(s.diameters) == pytest.approx(s.area, rel=1e-9)


def test_apex_is_the_narrow_end_of_a_truncated_ellipse():
    m = _ellipse(112, 112, 56, 40, 15, 35)  # vertical: y 5..75
    m[60:] = False  # cut at the mitral plane (the wide end, at the bottom)
    s = measure_lv(m)
    assert s.apex_xy[1] < 10 and s.base_xy[1] > 55
    assert s.diameters[0] < s.diameters[-1]


def test_spacing_gives_physical_units():
    m = _ellipse(100, 100, 50, 50, 10, 25)  # long axis along the rows
    px = measure_lv(m)
    cm = measure_lv(m, spacing=0.05)
    assert cm.area == pytest.approx(px.area * 0.0025)
    assert cm.length == pytest.approx(px.length * 0.05)
    aniso = measure_lv(m, spacing=(0.1, 0.05))  # rows 1 mm, columns 0.5 mm
    assert aniso.area == pytest.approx(px.area * 0.005)
    assert aniso.length == pytest.approx(px.length * 0.1, rel=0.05)  # the long axis runs along rows
    with pytest.raises(FrameError):
        measure_lv(m, spacing=(0.0, 1.0))


def test_empty_and_bad_masks():
    assert measure_lv(np.zeros((20, 20), bool)).empty
    with pytest.raises(FrameError):
        measure_lv(np.zeros((2, 20, 20), bool))


def test_largest_component_keeps_the_biggest_blob():
    m = np.zeros((40, 40), bool)
    m[5:25, 5:20] = True
    m[30:35, 30:35] = True
    m[0, 39] = True
    out = largest_component(m)
    assert out.sum() == 20 * 15 and not out[30:, 30:].any()


def test_ef_formulas():
    assert ejection_fraction(100.0, 40.0) == pytest.approx(60.0)
    assert math.isnan(ejection_fraction(0.0, 1.0))
    assert math.isnan(area_length_volume(10.0, 0.0))
    assert area_length_volume(30.0, 8.0) == pytest.approx(8 * 900 / (3 * math.pi * 8))
    assert disc_volume(np.full(20, 2.0), 10.0) == pytest.approx(math.pi * 10.0)  # a cylinder r=1, h=10
    assert mean_ef([50, 60, float("nan"), 70, 80, 90, 100], last=5) == pytest.approx(80.0)
    assert mean_ef([]) is None


def test_cardiac_runtime_imports_numpy_only():
    import subprocess
    import sys

    code = (
        "import sys, rtecho.cardiac, rtecho.cardiac.tracing, rtecho.cardiac.segment, rtecho.cardiac.score\n"
        "heavy = ('torch', 'scipy', 'onnxruntime', 'av', 'cv2', 'matplotlib', 'pydicom', 'skimage')\n"
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ""


def test_outline_is_what_both_pictures_draw_and_never_wraps_around():
    from rtecho.cardiac.draw import annotate_lv
    from rtecho.cardiac.lv import contour, outline
    from rtecho.viz.cardiac import CONTOUR_RGB

    small = np.zeros((60, 80), bool)
    small[10:40, 20:50] = True
    assert np.array_equal(outline(small), contour(small))  # small frames: 1 px
    big = np.zeros((320, 400), bool)
    big[100:319, 300:400] = True  # touches the right and bottom edges
    edge = outline(big)
    assert edge.sum() > contour(big).sum()  # 2 px wide on large frames
    assert not edge[:, :300].any() and not edge[:100].any()  # nothing wrapped to the far sides
    drawn = annotate_lv(np.zeros((320, 400), np.uint8), big)
    assert np.array_equal(np.all(drawn == CONTOUR_RGB, axis=2), edge)
