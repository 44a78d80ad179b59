"""Realism knobs: blood haze, soft boundaries, framed stills; each is randomised and can be switched off."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from rtecho.synth import SynthConfig, SynthError, render_cine, render_stages, render_view
from rtecho.synth.physics import fan_mask

PLAIN = {"jpeg_prob": 0.0, "rib_shadow_prob": 0.0, "screen_prob": 0.0, "post_blur_px": (0.0, 0.0)}


def _cavity_to_fan(haze: float, seed: int) -> float:
    cfg = SynthConfig(haze=(haze, haze), **PLAIN)
    c = render_cine("A4C", np.random.default_rng(seed), n_frames=1, size_hw=(96, 96), config=cfg)
    frame, m = c.frames[0].astype(float), c.lv_masks[0]
    return frame[m].mean() / frame[(frame > 0) & ~m].mean()


@pytest.mark.parametrize("seed", [0, 1])
def test_blood_haze_lifts_the_cavity_towards_tissue(seed):
    assert _cavity_to_fan(0.15, seed) > _cavity_to_fan(0.0, seed) + 0.05


def _edge_energy(soften: float) -> float:
    cfg = SynthConfig(soften_cm=(soften, soften), haze=(0.0, 0.0), **PLAIN)
    _, stages, _, _ = render_stages("A4C", np.random.default_rng(3), (96, 96), cfg)
    # speckle-free comparison: local mean of the envelope (log) shows the tissue map's boundaries
    env = np.log(stages.envelope + 1e-6)
    smooth = ndimage.uniform_filter(env, 5)
    return float(np.abs(np.diff(smooth, axis=1)).mean())


def test_softening_blurs_tissue_boundaries():
    assert _edge_energy(0.6) < 0.9 * _edge_energy(0.0)


def test_unframed_still_is_the_bare_fan():
    cfg = SynthConfig(**PLAIN)
    img, _, acq, _ = render_stages("PLAX", np.random.default_rng(5), (80, 80), cfg)
    assert not img[~fan_mask(acq.geom)].any()  # nothing but the fan


def test_framed_still_keeps_size_and_adds_margins_and_furniture():
    cfg = SynthConfig(screen_prob=1.0, screen_aspect=(1.5, 1.5), jpeg_prob=0.0)
    imgs = [render_view("A4C", np.random.default_rng(s), (96, 96), cfg) for s in range(6)]
    assert all(i.shape == (96, 96) and i.dtype == np.uint8 for i in imgs)
    # the fan of a 1.5:1 screen squeezed into a square leaves black margins left and right, at the top
    assert all(i[:10, :6].mean() < 60 and i[:10, -6:].mean() < 60 for i in imgs)
    plain = SynthConfig(screen_prob=1.0, screen_aspect=(1.5, 1.5), jpeg_prob=0.0, furniture=False)
    a = render_view("A4C", np.random.default_rng(0), (96, 96), plain)
    assert a.shape == (96, 96)


def test_same_seed_same_framed_still():
    cfg = SynthConfig(screen_prob=1.0)
    a = render_view("PSAX-AV", np.random.default_rng(11), (64, 64), cfg)
    b = render_view("PSAX-AV", np.random.default_rng(11), (64, 64), cfg)
    assert np.array_equal(a, b)


@pytest.mark.parametrize(
    "kw",
    [{"screen_prob": 1.5}, {"haze": (0.2, 0.1)}, {"soften_cm": (-0.1, 0.2)}, {"screen_aspect": (0.1, 1.0)}],
)
def test_bad_realism_settings_fail_clearly(kw):
    with pytest.raises(SynthError):
        SynthConfig(**kw)
