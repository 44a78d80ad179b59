"""Transfer augmentations: seeded, shape-keeping, and each does what its docstring says."""

from __future__ import annotations

import numpy as np
import pytest

from rtecho.train import transfer as T


@pytest.fixture
def fan():
    """A 64x64 still: a bright fan on black with dark chambers inside."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:64, :64]
    inside = (np.abs(xx - 31.5) < yy * 0.7) & (yy < 60)
    im = np.where(inside, rng.integers(60, 200, (64, 64)), 0).astype(np.uint8)
    im[(yy - 35) ** 2 + (xx - 31.5) ** 2 < 64] = 10
    return im


FUNCS = [
    T.aspect_stretch,
    T.haze,
    T.wall_thicken,
    T.match_intensity,
    T.random_convolution,
    T.high_gain,
    *T.PRESETS.values(),
]


@pytest.mark.parametrize("fn", FUNCS, ids=lambda f: getattr(f, "__name__", type(f).__name__))
def test_seeded_shape_dtype(fn, fan):
    a, b = fn(fan, np.random.default_rng(3)), fn(fan, np.random.default_rng(3))
    assert a.shape == fan.shape and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert not np.array_equal(a, fan)


def test_aspect_stretch_pivots_on_the_centre_column():
    im = np.zeros((40, 61), np.uint8)
    im[:, 30] = 255  # centre column
    im[:, 40] = 255  # 10 px right of it
    rng = np.random.default_rng(1)
    r = float(np.exp(np.random.default_rng(1).uniform(np.log(0.7), np.log(1.4))))
    out = T.aspect_stretch(im, rng)
    row = out[5].astype(float)
    assert row[30] > 200  # the centre stays
    peak = 31 + int(np.argmax(row[31:]))
    assert abs((peak - 30) - 10 * r) <= 1.0


def test_match_intensity_moves_quantiles_towards_a_reference(fan):
    curves, sources = T.reference_quantiles()
    assert len(curves) >= 10 and all("(MIT)" in s for s in sources)
    before = T.intensity_quantiles(fan)
    out = T.match_intensity(fan, np.random.default_rng(5))
    after = T.intensity_quantiles(out)
    dist_before = np.abs(curves - before).mean(axis=1).min()
    dist_after = np.abs(curves - after).mean(axis=1).min()
    assert dist_after < 0.7 * dist_before


def test_haze_brightens_only_inside_the_sector(fan):
    out = T.haze(fan, np.random.default_rng(2))
    outside = ~T.sector_mask(fan)
    assert np.array_equal(out[outside], fan[outside])
    assert out.astype(int).sum() > fan.astype(int).sum()


def test_wall_thicken_widens_a_thin_line():
    im = np.full((32, 32), 40, np.uint8)
    im[:, 16] = 250
    out = T.wall_thicken(im, np.random.default_rng(0))
    assert (out[10] > 100).sum() > (im[10] > 100).sum()


def test_transfer_augment_refuses_colour(fan):
    with pytest.raises(ValueError, match="grey"):
        T.TransferAugment()(np.stack([fan] * 3, axis=-1), np.random.default_rng(0))


def test_high_gain_lifts_dark_pixels_most_and_keeps_black():
    im = np.array([[0, 20, 128, 250]], np.uint8)
    out = T.high_gain(im, np.random.default_rng(0)).astype(int)
    assert out[0, 0] == 0 and (out[0, 1:] > im[0, 1:]).all()
    assert out[0, 1] - 20 > out[0, 3] - 250
