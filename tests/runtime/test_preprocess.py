from __future__ import annotations

import numpy as np
import pytest

from rtecho.errors import FrameError
from rtecho.runtime.preprocess import Preprocessor, equalize, resize, resize_matrix
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
    assert reduce_factor((768, 1024), (128, 128)) == 4
    assert reduce_factor((610, 880), (128, 128)) == 3  # a 1024x768 screen's fan
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


def test_preprocessors_of_one_frame_share_the_blanked_crop_unreduced():
    # a crop too small to be box-reduced (640x480 screens): the blanked grey crop is made once
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    roi = (30, 120, 300, 380)
    keep = np.zeros((300, 380), bool)
    keep[20:280, 30:350] = True
    a = Preprocessor(ModelCard("a", "x", ("A2C", "A4C"), (128, 128), mean=(0.5,), std=(0.25,)))
    b = Preprocessor(ModelCard("b", "x", ("A2C", "A4C"), (112, 112), mean=(0.0,), std=(1.0,)))
    shared: dict = {}
    xa = a.apply(img, roi=roi, keep=keep, shared=shared)
    (kept,) = shared.values()
    assert not kept.flags.writeable
    xb = b.apply(img, roi=roi, keep=keep, shared=shared)
    assert len(shared) == 1 and next(iter(shared.values())) is kept
    assert np.array_equal(xa, a.apply(img, roi=roi, keep=keep))
    assert np.array_equal(xb, b.apply(img, roi=roi, keep=keep))
    c = Preprocessor(
        ModelCard("c", "x", ("A2C", "A4C"), (112, 112), channels=3, mean=(0.0,) * 3, std=(1.0,) * 3)
    )
    xc = c.apply(img, roi=roi, keep=keep, shared=shared)  # other channels: its own crop
    assert len(shared) == 2 and np.array_equal(xc, c.apply(img, roi=roi, keep=keep))


def _sector(h=64, w=64, seed=0):
    """A fan of speckle-like grey levels 20..220 on a black background."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    fan = (np.abs(x - w / 2) < 0.45 * y + 2) & (y > 2) & (y < h - 3)
    img = np.zeros((h, w), np.uint8)
    img[fan] = np.clip(rng.gamma(2.0, 40.0, fan.sum()) + 20, 20, 220).astype(np.uint8)
    return img, fan


def _eq_card(equalize=True, size=(64, 64)):
    return ModelCard("m", "x", ("A2C", "A4C"), size, mean=(0.5,), std=(0.25,), equalize=equalize)


@pytest.mark.parametrize(
    "curve",
    [
        lambda v: 255 * (v / 255) ** 0.5,  # gamma (brighter, as a high-gain screen)
        lambda v: 255 * (v / 255) ** 1.6,  # gamma (darker)
        lambda v: 255 * np.log1p(v / 16) / np.log1p(255 / 16),  # log compression
        lambda v: np.where(v > 0, 40 + 0.8 * v, 0),  # gain + offset (haze-like lift)
    ],
    ids=["gamma0.5", "gamma1.6", "log", "lift"],
)
def test_equalize_is_invariant_to_a_monotone_grey_curve(curve):
    img, fan = _sector()
    bent = np.clip(np.rint(curve(img.astype(np.float64))), 0, 255).astype(np.uint8)
    eq, plain = Preprocessor(_eq_card()), Preprocessor(_eq_card(False))
    d_eq = np.abs(eq(bent) - eq(img))[0, 0][fan] * 0.25 * 255  # back on the 0..255 scale
    d_plain = np.abs(plain(bent) - plain(img))[0, 0][fan] * 0.25 * 255
    assert d_eq.max() <= 3.0 and d_eq.mean() < 0.5  # only levels the rounded curve merged move
    assert d_plain.mean() > 40 * max(d_eq.mean(), 0.1)  # the curve itself is no small change


def test_equalize_after_resizing_a_large_frame_stays_close():
    img, _ = _sector(480, 640, seed=1)
    bent = np.clip(np.rint(255 * (img / 255.0) ** 0.5), 0, 255).astype(np.uint8)
    eq, plain = Preprocessor(_eq_card()), Preprocessor(_eq_card(False))
    d_eq = np.abs(eq(bent) - eq(img)).mean() * 0.25 * 255
    d_plain = np.abs(plain(bent) - plain(img)).mean() * 0.25 * 255
    assert d_eq < 0.2 * d_plain  # resampling does not commute with the curve: close, not exact


def test_equalize_keeps_the_background_black_and_spreads_the_sector():
    img, fan = _sector()
    x = Preprocessor(_eq_card())(img)[0, 0] * 0.25 + 0.5  # 0..1
    np.testing.assert_array_equal(x[~fan], 0.0)
    inside = x[fan]
    assert inside.min() > 0 and inside.max() <= 1.0
    assert abs(np.median(inside) - 0.5) < 0.02  # uniform over the sector: its median is mid-grey
    np.testing.assert_array_equal(Preprocessor(_eq_card())(np.zeros((30, 40), np.uint8)), -2.0)


def test_equalize_on_three_channels_and_the_mid_rank_levels():
    x = np.array([[[0.0, 2.4, 10.0, 10.0, 200.0]]], np.float32)
    np.testing.assert_allclose(equalize(x)[0, 0], [0.0, 0.0, 85.0, 85.0, 212.5])
    rgb = np.concatenate([x, 255 - x, x])  # each channel by its own CDF
    out = equalize(rgb)
    assert out.shape == (3, 1, 5) and out.dtype == np.float32
    np.testing.assert_allclose(out[0], out[2])
    np.testing.assert_allclose(out[1, 0], [229.5, 178.5, 102.0, 102.0, 25.5])


def test_default_card_leaves_the_tensor_as_before():
    img, _ = _sector(120, 160, seed=2)
    card = _card()
    assert card.equalize is False and Preprocessor(card).equalize is False
    want = (resize(img.astype(np.float32), (64, 64)) / 255.0 - 0.5) / 0.25
    np.testing.assert_allclose(Preprocessor(card)(img)[0, 0], want, atol=1e-5)
    assert not np.allclose(Preprocessor(_eq_card())(img)[0, 0], want, atol=0.05)
    assert Preprocessor.for_input((64, 64), 1, (0.5,), (0.25,), equalize=True).equalize


def test_reduced_blanked_crop_equals_reducing_the_blanked_image():
    """A large frame's crop is reduced unblanked (rows first from the interleaved pixels when no planes
    are given) and blanked per block: the same numbers as blanking every pixel first, for grey and RGB
    frames, block sizes 2 and 3, a cached (read-only) sector mask, another one after it and a writeable
    one."""
    from rtecho.ultrasound.sector import Sector

    rng = np.random.default_rng(3)
    for size_hw, out in (((600, 800), (128, 128)), ((768, 1024), (112, 112)), ((767, 1023), (128, 128))):
        h, w = size_hw
        fans = [Sector(size_hw, (w / 2 + d, 10.0 + d), 0.8 * h - 2 * d, -40 + d, 38) for d in (0.0, 7.3)]
        rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        pre3 = Preprocessor(ModelCard("c", "x", ("A2C", "A4C"), out, 3, (0.5,) * 3, (0.25,) * 3))
        pre1 = Preprocessor(ModelCard("g", "x", ("A2C", "A4C"), out, mean=(0.5,), std=(0.25,)))
        for image in (rgb, rgb[..., 1].copy()):
            planes = np.ascontiguousarray(np.moveaxis(image, 2, 0)) if image.ndim == 3 else None
            for fan in (*fans, fans[0]):  # back to the first mask: nothing stale from the second
                top, left, hh, ww = fan.bbox
                region = fan.region(size_hw)
                keep = region[top : top + hh, left : left + ww]
                crop = image[top : top + hh, left : left + ww]
                blanked = crop * (keep if crop.ndim == 2 else keep[..., None])
                for pre in (pre1, pre3):
                    want = pre(blanked)
                    assert np.array_equal(pre.apply(image, (top, left, hh, ww), keep), want)
                    assert np.array_equal(pre.apply(image, (top, left, hh, ww), keep.copy()), want)
                    if planes is not None:
                        got = pre.apply(image, (top, left, hh, ww), keep, planes)
                        assert np.array_equal(got, want)


def test_box_reduce_rgb_is_box_reduce_of_the_planes():
    from rtecho.runtime.preprocess import box_reduce, box_reduce_rgb

    img = np.random.default_rng(4).integers(0, 256, (63, 85, 3), dtype=np.uint8)
    for a in (img, img[1:, 3:]):
        planes = np.ascontiguousarray(np.moveaxis(a, 2, 0))
        for k in (2, 3, 4, 17):  # 17: sums past uint16
            assert np.array_equal(box_reduce_rgb(a, k), box_reduce(planes, k))
    big = np.full((34, 34, 3), 255, np.uint8)
    assert np.allclose(box_reduce_rgb(big, 17), 255.0) and np.allclose(box_reduce(big[..., 0], 17), 255.0)


def test_reduced_crop_of_a_box_or_the_whole_frame_equals_blanking_first():
    """A box sector (no border blocks when it is block-aligned, some when not) and the whole frame
    (nothing blanked): the per-block blanking gives the blanked image's numbers."""
    from rtecho.ultrasound.sector import Sector

    rng = np.random.default_rng(5)
    size_hw = (768, 1024)
    rgb = rng.integers(0, 256, (*size_hw, 3), dtype=np.uint8)
    pre = Preprocessor(ModelCard("g", "x", ("A2C", "A4C"), (128, 128), mean=(0.5,), std=(0.25,)))
    for sector in (
        Sector(size_hw, kind="box", box=(60, 90, 600, 810)),
        Sector(size_hw, kind="box", box=(61, 91, 601, 809)),
        Sector.whole(size_hw),
    ):
        top, left, hh, ww = sector.bbox
        keep = sector.region(size_hw)[top : top + hh, left : left + ww]
        crop = rgb[top : top + hh, left : left + ww]
        for image, blanked in ((rgb, crop * keep[..., None]), (rgb[..., 0].copy(), crop[..., 0] * keep)):
            want = pre(blanked)
            assert np.array_equal(pre.apply(image, (top, left, hh, ww), keep), want), sector
