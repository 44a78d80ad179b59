"""Spectral Doppler, tissue Doppler and M-mode screens laid out as scanners show them."""

from __future__ import annotations

import numpy as np
import pytest

from rtecho.synth import render_screen
from rtecho.synth.mode_screens import SCREEN_SIZES, sample_mode_screen
from rtecho.synth.trace_screen import draw_layout
from rtecho.synth.traces import MMODE_KINDS, SPECTRAL_KINDS, mmode_band, spectral_band, velocity_profile


@pytest.mark.parametrize("mode", ["spectral_doppler", "mmode"])
@pytest.mark.parametrize("size_hw", [(480, 640), (600, 800), (768, 1024)])
def test_trace_screen_layout_and_truth(mode, size_hw):
    s = render_screen("A4C", np.random.default_rng(1), size_hw=size_hw, mode=mode)
    h, w = size_hw
    assert s.image.shape == (h, w, 3) and s.truth.mode == mode
    assert s.truth.trace in (MMODE_KINDS if mode == "mmode" else SPECTRAL_KINDS)
    assert s.truth.layout in ("top", "side")
    ax, ay = s.truth.apex_xy
    assert 0 <= ax < w and -5 <= ay < 0.5 * h  # the small 2-D image is on the screen, upper part
    # the trace band fills a wide rectangle of the lower screen
    lower = s.image[int(0.6 * h) : int(0.8 * h)].max(axis=2)
    assert (lower.mean(axis=0) > 3).mean() > 0.4


def test_layouts_vary():
    rng = np.random.default_rng(0)
    lays = [draw_layout((600, 800), "mmode", rng) for _ in range(60)]
    assert {lay.layout for lay in lays} == {"top", "side"}
    for lay in lays:
        y0, y1, x0, x1 = lay.image_box
        by0, by1, bx0, bx1 = lay.band_box
        assert 0 <= y0 < y1 <= 600 and 0 <= x0 < x1 <= 800 and by1 - by0 > 0.25 * 600
        assert bx1 - bx0 > 0.3 * 800
        if lay.layout == "top":
            assert by0 >= y1 - 0.03 * 600 and (bx1 - bx0) > 0.65 * 800  # full-width trace below


def test_spectral_envelopes_have_their_signs():
    rng = np.random.default_rng(0)
    phase = np.linspace(0, 3, 900) % 1.0
    assert velocity_profile("mitral_inflow", phase, rng).min() >= 0  # towards the probe
    assert velocity_profile("lvot", phase, rng).max() <= 0  # away from it
    tdi = velocity_profile("tdi", phase, rng)
    assert tdi.max() > 0 and tdi.min() < 0  # s' up, e' and a' down
    band, base = spectral_band((200, 600), phase[:600], "mitral_inflow", rng)
    assert band[:base].mean() > band[base + 5 :].mean()  # spectrum above the baseline
    assert band[base + 5 :].mean() > 2  # over a speckled grey background


def test_mmode_layers_move_with_the_cycle():
    rng = np.random.default_rng(0)
    phase = np.linspace(0, 2, 400) % 1.0
    band = mmode_band((240, 400), phase, "mmode_lv", rng)
    assert band.shape == (240, 400) and band.min() >= 0
    ed, es = int(np.argmin(np.abs(phase - 0.02))), int(np.argmin(np.abs(phase - 0.35)))
    assert np.abs(band[:, ed] - band[:, es]).mean() > 5  # walls moved between end-diastole and end-systole


@pytest.mark.parametrize("mode", ["bmode", "color_doppler", "spectral_doppler", "mmode"])
def test_sample_mode_screen_sizes_and_crops(mode):
    rng = np.random.default_rng(4)
    shapes = {sample_mode_screen(mode, "PLAX", rng).image.shape[:2] for _ in range(6)}
    lo = 0.8 if mode in ("bmode", "color_doppler") else 0.5  # trace screens may lose their top third
    for h, w in shapes:
        assert any(lo * sh <= h <= sh and 0.8 * sw <= w <= sw for sh, sw in SCREEN_SIZES)
