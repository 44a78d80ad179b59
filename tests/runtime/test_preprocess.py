from __future__ import annotations

import numpy as np
import pytest

from rtecho.errors import FrameError
from rtecho.runtime.preprocess import Preprocessor, resize, resize_matrix
from rtecho.types import ModelCard


def _card(channels=1, size=(64, 64)):
    return ModelCard(
        "m", "x", ("A2C", "A4C"), size, channels=channels, mean=(0.5,) * channels, std=(0.25,) * channels
    )


def test_resize_matrix_rows_sum_to_one():
    for n_in, n_out in [(240, 128), (128, 240), (7, 7), (1, 5), (320, 1)]:
        m = resize_matrix(n_in, n_out)
        assert m.shape == (n_out, n_in)
        np.testing.assert_allclose(m.sum(axis=1), 1.0, rtol=1e-6)


def test_resize_matches_pillow_bilinear():
    from PIL import Image

    img = np.random.default_rng(0).random((97, 131)).astype(np.float32) * 255
    ref = np.asarray(Image.fromarray(img, mode="F").resize((48, 40), Image.BILINEAR))
    np.testing.assert_allclose(resize(img, (40, 48)), ref, atol=1e-3)


def test_preprocess_gray_rgb_and_normalisation():
    p = Preprocessor(_card())
    white = p(np.full((120, 160, 3), 255, np.uint8))
    assert white.shape == (1, 1, 64, 64) and white.dtype == np.float32
    np.testing.assert_allclose(white, (1.0 - 0.5) / 0.25, atol=1e-4)
    black = p(np.zeros((120, 160), np.uint8))
    np.testing.assert_allclose(black, -2.0, atol=1e-5)
    p3 = Preprocessor(_card(channels=3))
    red = np.zeros((10, 10, 3), np.uint8)
    red[..., 0] = 255
    out = p3(red)
    assert out.shape == (1, 3, 64, 64)
    np.testing.assert_allclose(out[0, 0], 2.0, atol=1e-4)
    np.testing.assert_allclose(out[0, 1], -2.0, atol=1e-4)


def test_preprocess_roi_and_bad_frames():
    p = Preprocessor(_card())
    img = np.zeros((100, 100), np.uint8)
    img[:50] = 255
    top = p(img, roi=(0, 0, 50, 100))
    np.testing.assert_allclose(top, 2.0, atol=1e-4)
    for bad in (
        np.zeros((10, 10), np.float32),
        np.zeros((10, 10, 4), np.uint8),
        np.zeros((0, 5), np.uint8),
        [1, 2],
    ):
        with pytest.raises(FrameError):
            p(bad)
    with pytest.raises(FrameError, match="cropped"):
        p(img, roi=(100, 0, 10, 10))


def test_reduce_factor_leaves_small_frames_alone():
    from rtecho.runtime.preprocess import reduce_factor

    assert reduce_factor((160, 160), (128, 128)) == 1  # training stills
    assert reduce_factor((240, 320), (128, 128)) == 1  # pydicom's cine
    assert reduce_factor((463, 640), (128, 128)) == 2  # a 640x480 screen's fan
    assert reduce_factor((768, 1024), (128, 128)) == 3
    assert reduce_factor((1000, 200), (128, 128)) == 1  # one axis too short


def test_box_reduce_is_the_block_mean():
    from rtecho.runtime.preprocess import box_reduce

    full = np.random.default_rng(0).integers(0, 256, (3, 62, 84), dtype=np.uint8)
    for a in (full[0, :61, :83], full[1, 1:, 1:], full[:, 1:, 3:]):  # odd offsets: unaligned uint16 views
        for k in (2, 3, 4):
            h, w = a.shape[-2] // k * k, a.shape[-1] // k * k
            blocks = a[..., :h, :w].astype(np.float64).reshape(*a.shape[:-2], h // k, k, w // k, k)
            assert np.allclose(box_reduce(a, k), blocks.mean(axis=(-3, -1)), atol=1e-4)


def test_reduced_resize_is_close_to_the_direct_one():
    """A large frame is box-reduced before the antialiased resize: nearly the direct resize's values
    (both low-pass filters), on a smooth image with speckle, grey and RGB."""
    from rtecho.runtime.preprocess import resize, to_channels

    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:600, 0:800]
    smooth = 120 + 60 * np.sin(yy / 40.0) * np.cos(xx / 55.0)
    grey = np.clip(smooth + rng.normal(0, 25, smooth.shape), 0, 255).astype(np.uint8)
    rgb = np.stack([grey, np.roll(grey, 3, axis=1), grey // 2], axis=2)
    card = ModelCard("m", "x", ("A2C", "A4C"), (128, 128), mean=(0.0,), std=(1.0,))
    pre = Preprocessor(card)
    for img in (grey, rgb):
        direct = resize(to_channels(img, 1), (128, 128)) / 255.0
        diff = np.abs(pre(img)[0, 0] - direct)
        assert diff.mean() < 0.01 and diff.max() < 0.08, (diff.mean(), diff.max())


def test_preprocessors_of_one_frame_share_the_reduced_crop():
    rng = np.random.default_rng(2)
    img = rng.integers(0, 256, (600, 800, 3), dtype=np.uint8)
    roi = (40, 100, 500, 600)
    keep = np.zeros((500, 600), bool)
    keep[50:450, 60:560] = True
    a = Preprocessor(ModelCard("a", "x", ("A2C", "A4C"), (128, 128), mean=(0.5,), std=(0.25,)))
    b = Preprocessor(ModelCard("b", "x", ("A2C", "A4C"), (112, 112), mean=(0.0,), std=(1.0,)))
    shared: dict = {}
    xa = a.apply(img, roi=roi, keep=keep, shared=shared)
    assert len(shared) == 1
    (kept,) = shared.values()
    xb = b.apply(img, roi=roi, keep=keep, shared=shared)
    assert len(shared) == 1 and next(iter(shared.values())) is kept  # computed once, reused
    assert np.array_equal(xa, a.apply(img, roi=roi, keep=keep))  # the same numbers as unshared
    assert np.array_equal(xb, b.apply(img, roi=roi, keep=keep))
