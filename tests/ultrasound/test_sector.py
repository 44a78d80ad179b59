from __future__ import annotations

import numpy as np
import pytest

from rtecho.synth import render_screen
from rtecho.ultrasound.sector import Sector, SectorDetector, detect_sector
from rtecho.views import VIEWS


def test_sector_mask_bbox_iou():
    s = Sector((100, 120), (60.0, 0.0), 90.0, -40, 40)
    m = s.mask()
    assert m.sum() > 0 and s.iou(s) == 1.0
    top, left, h, w = s.bbox
    assert m[top : top + h, left : left + w].sum() == m.sum()
    other = Sector((100, 120), (60.0, 0.0), 60.0, -40, 40)
    assert 0.3 < s.iou(other) < 0.6
    assert s.mask((200, 240)).sum() == pytest.approx(4 * m.sum(), rel=0.05)


def test_bad_sector_raises():
    with pytest.raises(ValueError):
        Sector((10, 10), (5.0, 0.0), -1.0, -10, 10)
    with pytest.raises(ValueError):
        Sector((10, 10), kind="box")


def test_detect_sector_on_simulator_screens():
    # 52 screens with furniture (4 per view, B-mode and colour Doppler). Measured (not here): 416
    # screens at 240x320 (seeds 1-4): 97.8% with IoU >= 0.9, median 0.979 (95.9% and 0.964 before the
    # black-level threshold, symmetry rule, far-arc ends and radius bias fix; 80.5% before the edge/radius
    # rework); 208 at 600x800: 98.1%. The misses are dark fans with hardly any echo near an edge.
    # This seed: 96.2% >= 0.9, median 0.983.
    rng = np.random.default_rng(11)
    ious = []
    for i in range(52):
        s = render_screen(VIEWS[i % 13], rng, mode=("bmode", "color_doppler")[i % 2], furniture=True)
        ious.append(detect_sector(s.image).iou(Sector.from_fan(s.truth)))
    ious = np.array(ious)
    assert np.median(ious) >= 0.96
    assert (ious >= 0.9).mean() >= 0.95


def test_apply_blanks_furniture_and_crops():
    rng = np.random.default_rng(2)
    s = render_screen("A4C", rng, furniture=True)
    sector = detect_sector(s.image)
    out = sector.apply(s.image)
    top, left, h, w = sector.bbox
    assert out.shape[:2] == (h, w)
    outside = ~sector.mask()[top : top + h, left : left + w]
    assert out[outside].max() == 0
    assert s.image[~sector.mask()].max() > 0  # there was furniture to blank


def test_fallbacks_box_and_whole():
    img = np.zeros((120, 160), np.uint8)
    assert detect_sector(img).kind == "box" and detect_sector(img).bbox == (0, 0, 120, 160)
    rect = img.copy()
    rect[20:100, 30:130] = np.random.default_rng(0).integers(40, 200, (80, 100))
    s = detect_sector(rect)
    assert s.kind == "box"
    assert s.iou(Sector((120, 160), kind="box", box=(20, 30, 80, 100))) > 0.9


def test_detector_reestimates_on_depth_change():
    a = Sector((150, 200), (100.0, 5.0), 140.0, -35, 35)
    b = Sector((150, 200), (100.0, 5.0), 95.0, -35, 35)
    rng = np.random.default_rng(0)

    def frame(s):
        return (s.mask() * rng.integers(30, 220, (150, 200))).astype(np.uint8)

    det = SectorDetector(window=4, every=1000)
    for _ in range(6):
        got = det.update(frame(a))
    assert got.iou(a) > 0.9
    for _ in range(2):
        got = det.update(frame(b))
    assert got.iou(b) > 0.9


def test_detect_sector_rejects_bad_input():
    with pytest.raises(ValueError):
        detect_sector([])
    with pytest.raises(ValueError):
        detect_sector([np.zeros((10, 10), np.uint8), np.zeros((12, 10), np.uint8)])
