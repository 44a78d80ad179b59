"""Augmentation keeps shape and dtype and is deterministic under a seed."""

from __future__ import annotations

import numpy as np
import pytest

from rtecho.train import augment as A


@pytest.fixture
def img():
    rng = np.random.default_rng(0)
    im = rng.integers(0, 255, size=(37, 50)).astype(np.uint8)
    im[:4] = 0
    return im


FUNCS = [
    A.rotate_about_apex,
    A.sector_crop_zoom,
    A.gain_contrast_gamma,
    A.speckle,
    A.blur,
    A.jpeg_quantise,
    A.cutout,
]


@pytest.mark.parametrize("fn", FUNCS, ids=lambda f: f.__name__)
def test_each_op_keeps_shape_dtype_and_is_seeded(fn, img):
    a = fn(img, np.random.default_rng(7))
    b = fn(img, np.random.default_rng(7))
    assert a.shape == img.shape and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert not np.array_equal(a, img)  # it does something


def test_rgb_input_is_supported(img):
    rgb = np.repeat(img[..., None], 3, axis=2)
    out = A.UltrasoundAugment(p_rotate=1, p_blur=1, p_jpeg=1)(rgb, np.random.default_rng(1))
    assert out.shape == rgb.shape and out.dtype == np.uint8


def test_pipeline_seeded_and_varies_with_seed(img):
    aug = A.UltrasoundAugment(p_rotate=1, p_zoom=1, p_gain=1, p_speckle=1, p_blur=1, p_jpeg=1, p_cutout=1)
    a = aug(img, np.random.default_rng(3))
    assert np.array_equal(a, aug(img, np.random.default_rng(3)))
    assert not np.array_equal(a, aug(img, np.random.default_rng(4)))
    off = A.UltrasoundAugment(0, 10, 0, (1, 1), 0, 0, 0, 0, 0)
    assert np.array_equal(off(img, np.random.default_rng(0)), img)


def test_rotation_pivots_on_the_apex():
    img = np.zeros((41, 41), np.uint8)
    img[0:3, 19:22] = 255  # a bright spot at the apex (top centre)
    img[30:33, 19:22] = 255  # and one deep below it
    out = A.apex_affine(img, angle_deg=20.0)
    assert out[1, 20] > 200  # the apex stays put
    assert out[31, 20] < 50  # the deep spot moved sideways
    ys, xs = np.nonzero(out[20:] > 100)
    assert abs(xs.mean() - 20) > 5


def test_zoom_about_apex_keeps_apex_and_magnifies():
    img = np.zeros((41, 41), np.uint8)
    img[0:2, 20] = 255
    img[10, 18:23] = 255
    out = A.apex_affine(img, zoom=2.0)
    assert out[0, 20] > 200
    assert out[20, 20] > 100 and out[10, 20] < 50  # row 10 moved to row 20


def test_jpeg_quantisation_is_worse_at_low_quality(img):
    lo = A.jpeg_quantise(img, np.random.default_rng(0), quality=(10, 10)).astype(int)
    hi = A.jpeg_quantise(img, np.random.default_rng(0), quality=(95, 95)).astype(int)
    assert np.abs(lo - img).mean() > np.abs(hi - img).mean()
