"""Cine loops: LV area follows the cycle; area-length EF from rendered masks matches the requested EF."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rtecho.synth import SynthError, render_cine


def area_length_volume(mask: np.ndarray, apex: np.ndarray, base: np.ndarray) -> float:
    """Single-plane area-length volume (pixel units): V = 8 A^2 / (3 pi L)."""
    area = float(mask.sum())
    length = float(np.hypot(*(apex - base)))
    return 8 * area * area / (3 * math.pi * length)


def test_ef_from_rendered_ed_es_masks_matches_requested_ef_over_20_cines():
    errors = []
    for i in range(20):
        rng = np.random.default_rng(1000 + i)
        ef = float(rng.uniform(15, 85))
        view = "A4C" if i % 2 else "A2C"
        c = render_cine(view, rng, n_frames=64, fps=50, ef=ef, size_hw=(112, 112), masks_only=True)
        ved = area_length_volume(c.lv_masks[c.ed_index], c.lv_apex_xy[c.ed_index], c.lv_base_xy[c.ed_index])
        ves = area_length_volume(c.lv_masks[c.es_index], c.lv_apex_xy[c.es_index], c.lv_base_xy[c.es_index])
        errors.append(100 * (1 - ves / ved) - ef)
        assert abs(c.ef - ef) < 1e-9
    assert max(abs(e) for e in errors) <= 5.0, errors


def test_lv_mask_area_follows_the_cycle():
    c = render_cine(
        "A4C", np.random.default_rng(3), n_frames=60, fps=40, ef=50, heart_rate=70, masks_only=True
    )
    areas = c.lv_masks.sum(axis=(1, 2)).astype(float)
    assert np.corrcoef(areas, c.volumes)[0, 1] > 0.95
    assert areas[c.ed_index] > 1.3 * areas[c.es_index]
    assert c.volumes[c.ed_index] == pytest.approx(c.edv, rel=0.02)


def test_rendered_cine_frames_move_and_keep_speckle_correlated():
    c = render_cine("A4C", np.random.default_rng(0), n_frames=6, fps=50, ef=55, size_hw=(96, 96))
    assert c.frames.shape == (6, 96, 96) and c.frames.dtype == np.uint8
    f = c.frames.astype(float)
    fan = f[0] > 0
    r01 = np.corrcoef(f[0][fan], f[1][fan])[0, 1]
    r05 = np.corrcoef(f[0][fan], f[5][fan])[0, 1]
    assert 0.2 < r01 < 0.999  # speckle moves and decorrelates, but not completely between frames
    assert r05 < r01


@pytest.mark.parametrize("ef", [0, 4.9, 90.1, 120])
def test_ef_out_of_range_is_rejected(ef):
    with pytest.raises(SynthError, match="EF must be between 5 and 90"):
        render_cine("A4C", np.random.default_rng(0), n_frames=2, ef=ef)


def test_bad_cine_arguments_are_rejected():
    with pytest.raises(SynthError):
        render_cine("A4C", np.random.default_rng(0), n_frames=0)
    with pytest.raises(SynthError):
        render_cine("A4C", np.random.default_rng(0), fps=0)
