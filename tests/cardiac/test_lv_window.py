"""The cheap per-frame paths give the same numbers as the plain ones: largest_component against a
flood fill, measure_lv on a window (``origin=``) against the whole frame's mask, resize_window against
resize, and the segmenter's lazily made full mask against its part."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest

from rtecho.cardiac.lv import largest_component, measure_lv
from rtecho.runtime.masks import resize_window, window_of
from rtecho.runtime.preprocess import resize


def _flood_largest(m: np.ndarray) -> np.ndarray:
    """Reference: BFS over 4-neighbours; the biggest part, ties to the part met first in row-major order."""
    seen = np.zeros(m.shape, bool)
    best: list[tuple[int, int]] = []
    for y0, x0 in zip(*np.nonzero(m), strict=True):
        if seen[y0, x0]:
            continue
        part, q = [], deque([(y0, x0)])
        seen[y0, x0] = True
        while q:
            y, x = q.popleft()
            part.append((y, x))
            for yy, xx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= yy < m.shape[0] and 0 <= xx < m.shape[1] and m[yy, xx] and not seen[yy, xx]:
                    seen[yy, xx] = True
                    q.append((yy, xx))
        if len(part) > len(best):
            best = part
    out = np.zeros(m.shape, bool)
    for y, x in best:
        out[y, x] = True
    return out


@pytest.mark.parametrize("seed", range(4))
def test_largest_component_matches_a_flood_fill(seed):
    rng = np.random.default_rng(seed)
    for _ in range(60):
        m = rng.random((rng.integers(1, 30), rng.integers(1, 30))) < rng.uniform(0.2, 0.8)
        assert np.array_equal(largest_component(m), _flood_largest(m))


def test_largest_component_spiral_and_tie():
    m = np.zeros((9, 9), bool)  # a spiral: one part, long label paths
    m[0, :] = m[:, 8] = m[8, :] = m[2:, 0] = m[2, 0:7] = m[2:7, 6] = m[6, 2:7] = m[4:7, 2] = True
    assert (
        np.array_equal(largest_component(m), m & _flood_largest(m)) and largest_component(m).sum() == m.sum()
    )
    t = np.zeros((3, 5), bool)
    t[0, 0] = t[2, 4] = True  # two single pixels: the first one wins
    assert np.argwhere(largest_component(t)).tolist() == [[0, 0]]


def test_measure_on_a_window_is_the_whole_frames_measure():
    yy, xx = np.mgrid[:200, :260]
    full = ((xx - 140) / 30.0) ** 2 + ((yy - 90) / 55.0) ** 2 <= 1
    top, left = 20, 100
    part = full[top:170, left:190]
    assert part.sum() == full.sum()
    for spacing in (None, (0.03, 0.045)):
        a, b = measure_lv(full, spacing), measure_lv(part, spacing, origin=(top, left))
        assert (a.area, a.length, a.centroid_xy, a.apex_xy, a.base_xy) == (
            b.area,
            b.length,
            b.centroid_xy,
            b.apex_xy,
            b.base_xy,
        )
        assert np.array_equal(a.diameters, b.diameters)


def test_resize_window_is_bit_identical():
    z = np.random.default_rng(3).random((112, 112)).astype(np.float32)
    full = resize(z, (384, 514))
    r, c = window_of(112, 384, 30, 70), window_of(112, 514, 10, 50)
    assert r[0] > 0 and r[1] < 384 and c[0] > 0 and c[1] < 514
    assert np.array_equal(resize_window(z, (384, 514), r, c), full[r[0] : r[1], c[0] : c[1]])
    # outside the window every output mixes inputs outside rows 30..70 / columns 10..50 only
    z2 = z.copy()
    z2[30:71, 10:51] += 5.0
    diff = resize(z2, (384, 514)) != full
    assert not diff[: r[0]].any() and not diff[r[1] :].any()
    assert not diff[:, : c[0]].any() and not diff[:, c[1] :].any()


def test_segmenter_window_equals_the_whole_resize():
    """LVSegmenter's mask (resized back over the part's window only) against the whole-crop resize."""
    from rtecho.cardiac.segment import LVSegmenter, _probability
    from rtecho.pipeline.cardiac import default_segmenter_path
    from rtecho.runtime import load_engine
    from rtecho.synth import render_cine

    cine = render_cine("A4C", np.random.default_rng(4), n_frames=6, fps=30, ef=40, size_hw=(200, 260))
    with load_engine(default_segmenter_path()) as engine:
        seg = LVSegmenter(engine)
        for image in cine.frames:
            lvm = seg.segment(image)
            top, left, hh, ww = lvm.roi
            keep = seg.sector.region(image.shape[:2])[top : top + hh, left : left + ww]
            x = seg.pre(image, roi=lvm.roi, keep=keep)
            prob = _probability(seg._infer(x), seg.channel).astype(np.float32)
            lv = largest_component(prob > 0.5)
            prob = np.where(lv, prob, np.minimum(prob, 0.5 - 1e-3)).astype(np.float32)
            p = resize(prob, (hh, ww))
            m = (p > 0.5) & keep
            full = np.zeros(image.shape[:2], bool)
            full[top : top + hh, left : left + ww] = m
            assert full.any() and np.array_equal(lvm.mask, full)
            assert lvm.confidence == float(p[m].mean())
            oy, ox = lvm.origin
            assert lvm.part.sum() == full.sum() and full[
                oy : oy + lvm.part.shape[0], ox : ox + lvm.part.shape[1]
            ].all(where=lvm.part)
