"""Annotators: pixels change where the panel is and nowhere else; gray in, RGB out; errors render."""

from __future__ import annotations

import numpy as np
import pytest

from rtecho.errors import FrameError
from rtecho.viz import (
    LabelAnnotator,
    LatencyAnnotator,
    Overlay,
    ProbabilityBarAnnotator,
    as_canvas,
    default_overlay,
)
from rtecho.viz.annotate import GREEN


def changed_box(before: np.ndarray, after: np.ndarray) -> tuple[int, int, int, int] | None:
    """(y0, x0, y1, x1) bounding the pixels that differ (before may be gray), or None."""
    if before.ndim == 2:
        before = np.repeat(before[:, :, None], 3, axis=2)
    diff = (before != after).any(axis=2)
    if not diff.any():
        return None
    ys, xs = np.nonzero(diff)
    return int(ys.min()), int(xs.min()), int(ys.max()) + 1, int(xs.max()) + 1


def in_corner(box, shape, corner: str) -> bool:
    h, w = shape[:2]
    y0, x0, y1, x1 = box
    vert = y1 <= h // 2 if corner.startswith("top") else y0 >= h // 2
    horiz = x1 <= w // 2 + 1 if corner.endswith("left") else x0 >= w // 2
    return vert and horiz


ALL = [LabelAnnotator, ProbabilityBarAnnotator, LatencyAnnotator]


@pytest.mark.parametrize("cls", ALL + [default_overlay])
def test_gray_in_rgb_out_and_input_untouched(cls, gray240, pred):
    before = gray240.copy()
    out = cls().annotate(gray240, pred, fps=25.0)
    assert out.shape == (240, 320, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(gray240, before)
    assert changed_box(gray240, out) is not None


def test_rgb_untouched_unless_inplace(gray240, pred):
    rgb = np.repeat(gray240[:, :, None], 3, axis=2)
    before = rgb.copy()
    out = default_overlay().annotate(rgb, pred)
    assert out is not rgb
    np.testing.assert_array_equal(rgb, before)
    out2 = default_overlay().annotate(rgb, pred, inplace=True)
    assert out2 is rgb
    np.testing.assert_array_equal(out2, out)


def test_inplace_on_gray_returns_new_rgb(gray240, pred):
    before = gray240.copy()
    out = LabelAnnotator().annotate(gray240, pred, inplace=True)
    assert out.shape == (240, 320, 3)
    np.testing.assert_array_equal(gray240, before)


def test_inplace_read_only_is_a_frame_error(gray240, pred):
    rgb = np.repeat(gray240[:, :, None], 3, axis=2)
    rgb.setflags(write=False)
    with pytest.raises(FrameError, match="read-only"):
        LabelAnnotator().annotate(rgb, pred, inplace=True)


@pytest.mark.parametrize("bad", [np.zeros((8, 8), np.float32), np.zeros((8, 8, 4), np.uint8), [[1, 2]]])
def test_bad_images_raise_frame_error(bad, pred):
    with pytest.raises(FrameError):
        default_overlay().annotate(bad, pred)


@pytest.mark.parametrize("corner", ["top_left", "top_right", "bottom_left", "bottom_right"])
@pytest.mark.parametrize("cls", ALL)
def test_each_annotator_draws_only_in_its_corner(cls, corner, gray240, pred):
    out = cls(corner=corner).annotate(gray240, pred, fps=30.0)
    box = changed_box(gray240, out)
    assert box is not None
    assert in_corner(box, out.shape, corner), f"{cls.__name__} drew {box} outside {corner}"


def test_default_positions(gray240, pred):
    for cls, corner in [
        (LabelAnnotator, "top_left"),
        (LatencyAnnotator, "top_right"),
        (ProbabilityBarAnnotator, "bottom_left"),
    ]:
        box = changed_box(gray240, cls().annotate(gray240, pred))
        assert in_corner(box, (240, 320), corner)


def test_bar_length_follows_probability(make_pred):
    img = np.zeros((240, 320), np.uint8)
    bars = ProbabilityBarAnnotator(top_k=1)
    greens = []
    for p in (0.3, 0.6, 0.9):
        out = bars.annotate(img, make_pred(p_top=p))
        greens.append(int((out == GREEN).all(axis=2).sum()))
    assert greens[0] > 0
    assert greens[0] < greens[1] < greens[2]
    assert greens[2] / greens[0] == pytest.approx(3.0, rel=0.1)


def test_top_k_rows(make_pred):
    img = np.zeros((240, 320), np.uint8)
    heights = []
    for k in (1, 3, 5):
        y0, _, y1, _ = changed_box(img, ProbabilityBarAnnotator(top_k=k).annotate(img, make_pred()))
        heights.append(y1 - y0)
    assert heights[0] < heights[1] < heights[2]
    # top_k larger than the number of labels is clipped, not an error
    ProbabilityBarAnnotator(top_k=50).annotate(img, make_pred())


def test_label_lines_cover_states(make_pred, make_err):
    lab = LabelAnnotator()
    assert lab.lines(make_pred(top="PLAX", p_top=0.91))[0][0] == "PLAX 91%"
    assert lab.lines(make_pred(accepted=False))[0][0] == "unknown"
    colour = [t for t, _ in lab.lines(make_pred(top="PLAX", p_top=0.9, mode="color_doppler"))]
    assert colour[0] == "PLAX 90%" and "color doppler" in colour  # colour Doppler keeps its view, marked
    from rtecho.types import Prediction, ViewChange

    gated = Prediction(3, 0.1, None, None, None, make_pred().labels, {}, mode="spectral_doppler")
    assert lab.lines(gated)[0][0] == "SPECTRAL_DOPPLER: no view"
    change = make_pred(top="A4C", view_change=ViewChange("A2C", "A4C", 0, 0.0))
    assert any("view change A2C > A4C" in t for t, _ in lab.lines(change))
    err = lab.lines(make_err(error="engine exploded"))
    assert err[0][0] == "ERROR" and "engine exploded" in err[1][0]
    smoothed = make_pred(top="A4C", smoothed_label="A2C")
    texts = [t for t, _ in lab.lines(smoothed)]
    assert texts[0].startswith("A2C") and any("A4C" in t for t in texts[1:])
    assert [t for t, _ in LabelAnnotator(smoothed=False).lines(smoothed)][0].startswith("A4C")


def test_latency_lines(make_pred):
    lat = LatencyAnnotator(stages=("infer", "end_to_end", "decode"))
    texts = [t for t, _ in lat.lines(make_pred(timings_ms={"infer": 1.25, "end_to_end": 250.0}), fps=29.97)]
    assert texts == ["inf 1.2ms", "e2e 250ms", "dec --", "30.0fps"]
    with pytest.raises(ValueError, match="unknown stage"):
        LatencyAnnotator(stages=("warp",))


@pytest.mark.parametrize("size_hw", [(112, 112), (600, 800), (8, 8), (1, 40), (40, 1), (2000, 64)])
def test_error_unknown_and_odd_sizes_render(size_hw, make_pred, make_err):
    img = np.full(size_hw, 90, np.uint8)
    ov = default_overlay()
    for p in (make_pred(), make_err(error="x" * 300), make_pred(accepted=False), make_pred(mode="mmode")):
        out = ov.annotate(img, p, fps=float("nan"))
        assert out.shape == (*size_hw, 3)


def test_error_result_draws_no_bars(gray240, err_pred):
    out = ProbabilityBarAnnotator().annotate(gray240, err_pred)
    assert changed_box(gray240, out) is None
    out = LabelAnnotator().annotate(gray240, err_pred)
    box = changed_box(gray240, out)
    assert box is not None and (out[box[0] : box[2], box[1] : box[3]] == (255, 70, 60)).all(axis=2).any()


def test_text_scales_with_height(pred):
    small = np.zeros((112, 112), np.uint8)
    large = np.zeros((600, 800), np.uint8)
    bs = changed_box(small, LabelAnnotator().annotate(small, pred))
    bl = changed_box(large, LabelAnnotator().annotate(large, pred))
    assert (bl[2] - bl[0]) == pytest.approx(3 * (bs[2] - bs[0]), abs=2)
    assert bs[3] <= 112  # fits in a 112-wide image


def test_overlay_equals_sequential_application(gray240, pred):
    parts = [LabelAnnotator(), ProbabilityBarAnnotator(), LatencyAnnotator()]
    seq = as_canvas(gray240)
    for a in parts:
        seq = a.annotate(seq, pred, fps=12.0)
    np.testing.assert_array_equal(Overlay(*parts).annotate(gray240, pred, fps=12.0), seq)
    np.testing.assert_array_equal(default_overlay().annotate(gray240, pred, fps=12.0), seq)
    nested = Overlay(Overlay(parts[0]), Overlay(parts[1], parts[2]))
    np.testing.assert_array_equal(nested.annotate(gray240, pred, fps=12.0), seq)
    with pytest.raises(TypeError):
        Overlay(lambda img, p: img)


@pytest.mark.parametrize(
    "kw", [{"corner": "middle"}, {"scale": 0}, {"opacity": 1.5}, {"scale": 1.5}], ids=str
)
def test_bad_parameters(kw):
    with pytest.raises(ValueError):
        LabelAnnotator(**kw)
    with pytest.raises(ValueError):
        ProbabilityBarAnnotator(top_k=0)


def test_opacity_zero_keeps_background(gray240, pred):
    out = LabelAnnotator(opacity=0.0, color=(255, 0, 255)).annotate(gray240, pred)
    changed = (np.repeat(gray240[:, :, None], 3, axis=2) != out).any(axis=2)
    assert (out[changed] == (255, 0, 255)).all()  # only glyph pixels changed


def test_overlay_moves_panels_off_each_other_on_small_images(make_pred):
    img = np.zeros((112, 112), np.uint8)
    pred = make_pred(top="PSAX-AV", p_top=0.82, timings_ms={"infer": 12.3, "end_to_end": 25.0})
    alone = LabelAnnotator().annotate(img, pred)
    y0, x0, y1, x1 = changed_box(img, alone)
    both = Overlay(LabelAnnotator(), LatencyAnnotator()).annotate(img, pred, fps=29.97)
    # the label panel survives untouched, and the latency panel is drawn below it
    np.testing.assert_array_equal(both[y0:y1, x0:x1], alone[y0:y1, x0:x1])
    lat = changed_box(alone, both)
    assert lat is not None and lat[0] >= y1
    # standalone annotators do not know about each other: the latency panel would cover the label
    plain = LatencyAnnotator().annotate(alone, pred, fps=29.97)
    assert not np.array_equal(plain[y0:y1, x0:x1], alone[y0:y1, x0:x1])


def test_smoothed_label_without_probabilities_has_no_percentage(make_pred):
    texts = [t for t, _ in LabelAnnotator().lines(make_pred(top="A4C", smoothed_label="PLAX"))]
    assert texts[0] == "PLAX"


def test_annotators_are_callables(gray240, pred):
    np.testing.assert_array_equal(default_overlay()(gray240, pred), default_overlay().annotate(gray240, pred))
