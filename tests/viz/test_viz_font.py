"""The built-in bitmap font: every printable ASCII character renders, distinctly, at any scale."""

from __future__ import annotations

import numpy as np
import pytest

from rtecho.viz import font


def test_every_printable_char_renders_and_glyphs_are_distinct():
    assert len(font.PRINTABLE) == 95
    seen = {}
    for ch in font.PRINTABLE:
        g = font.glyph(ch)
        assert g.shape == (font.GLYPH_H, font.GLYPH_W) and g.dtype == bool
        if ch == " ":
            assert not g.any()
            continue
        assert g.any(), f"glyph {ch!r} is blank"
        key = g.tobytes()
        assert key not in seen, f"glyphs {ch!r} and {seen.get(key)!r} are identical"
        seen[key] = ch


def test_all_printable_text_mask_matches_glyphs():
    mask = font.text_mask(font.PRINTABLE, 1)
    assert mask.shape == font.text_size(font.PRINTABLE, 1)
    for i, ch in enumerate(font.PRINTABLE):
        x = i * font.CELL_W
        np.testing.assert_array_equal(mask[:, x : x + font.GLYPH_W], font.glyph(ch))
        if x + font.GLYPH_W < mask.shape[1]:
            assert not mask[:, x + font.GLYPH_W].any()  # blank spacing column


@pytest.mark.parametrize("scale", [1, 2, 3, 5])
def test_scaling_is_pixel_replication(scale):
    base = font.text_mask("A4C 92%", 1)
    big = font.text_mask("A4C 92%", scale)
    assert big.shape == (base.shape[0] * scale, base.shape[1] * scale)
    np.testing.assert_array_equal(big, np.kron(base, np.ones((scale, scale), bool)))


def test_uncached_equals_cached_and_cached_is_read_only():
    a = font.text_mask("e2e 12.5ms", 2)
    b = font.text_mask("e2e 12.5ms", 2, cache=False)
    np.testing.assert_array_equal(a, b)
    assert not a.flags.writeable


def test_non_ascii_draws_question_mark():
    np.testing.assert_array_equal(font.text_mask("é", 1), font.text_mask("?", 1))
    np.testing.assert_array_equal(font.text_mask("\n", 1), font.text_mask("?", 1))


def test_empty_text_and_bad_scale():
    assert font.text_size("", 2) == (0, 0)
    assert font.text_mask("").shape == (0, 0)
    with pytest.raises(ValueError, match="positive integer"):
        font.text_mask("A", 0)
    with pytest.raises(ValueError, match="positive integer"):
        font.text_size("A", 1.5)


def test_draw_text_only_touches_its_box():
    img = np.zeros((30, 80, 3), np.uint8)
    h, w = font.draw_text(img, "PLAX", (5, 10), color=(10, 200, 30), scale=2)
    assert (h, w) == font.text_size("PLAX", 2)
    changed = img.any(axis=2)
    ys, xs = np.nonzero(changed)
    assert ys.min() >= 5 and ys.max() < 5 + h and xs.min() >= 10 and xs.max() < 10 + w
    assert set(map(tuple, img[changed])) == {(10, 200, 30)}


@pytest.mark.parametrize("org", [(-5, -7), (25, 70), (-100, 0), (0, 500)])
def test_draw_text_clips_at_the_edges(org):
    img = np.zeros((30, 80, 3), np.uint8)
    font.draw_text(img, "clipped text", org, scale=2)  # must not raise
    full = np.zeros((130, 680, 3), np.uint8)
    font.draw_text(full, "clipped text", (org[0] + 100, org[1] + 100), scale=2)
    np.testing.assert_array_equal(img, full[100:130, 100:180])


def test_auto_scale_grows_with_height():
    assert font.auto_scale(112) == 1
    assert font.auto_scale(240) == 1
    assert font.auto_scale(600) == 3
    assert font.auto_scale(1080) == 5
    assert font.auto_scale(1) == 1


def test_fit_text():
    assert font.fit_text("PSAX-AV", 10) == "PSAX-AV"
    assert font.fit_text("decode failed badly", 8) == "decode.."
    assert len(font.fit_text("x" * 50, 8)) == 8
    assert font.fit_text("abc", 2) == "ab"
