"""The ultrasound stage on full-resolution screens: its fast paths give exactly what the plain
per-pixel formulations give (one shared downsample, vectorised components, banded sector masks,
crop and blank folded into the card's preprocessing), and the deferred window re-estimate."""

from __future__ import annotations

import numpy as np
import pytest

from rtecho.pipeline import FramePipeline
from rtecho.pipeline.contract import FrameRecord
from rtecho.pipeline.ultrasound import ModeStage, PrepareStage, SectorStage
from rtecho.runtime.preprocess import Preprocessor
from rtecho.synth import render_screen
from rtecho.types import Frame, ModelCard
from rtecho.ultrasound import _screen
from rtecho.ultrasound._geom import block_factor, block_mean, components, flat_traces, gray
from rtecho.ultrasound._screen import ScreenFrame
from rtecho.ultrasound.mode import ModeGate
from rtecho.ultrasound.sector import Sector, SectorDetector

SIZES = ((480, 640), (600, 800), (768, 1024))
CARD = ModelCard("m", "x", ("A2C", "A4C"), (64, 64), mean=(0.5,), std=(0.25,))


def _dense_mask(s: Sector, size_hw: tuple[int, int]) -> np.ndarray:
    """The region test evaluated at every pixel (the formulation the banded mask must equal)."""
    h, w = size_hw
    sy, sx = h / s.size_hw[0], w / s.size_hw[1]
    ys = (np.arange(h, dtype=np.float32)[:, None] + 0.5) / sy - s.apex_xy[1]
    xs = (np.arange(w, dtype=np.float32)[None, :] + 0.5) / sx - s.apex_xy[0]
    rr, th = np.hypot(xs, ys), np.degrees(np.arctan2(xs, ys))
    return (
        (rr < s.radius)
        & (rr >= s.inner_radius)
        & (th >= s.angle_start_deg)
        & (th <= s.angle_end_deg)
        & (ys > 0)
    )


def test_sector_mask_equals_the_per_pixel_test():
    rng = np.random.default_rng(1)
    for k in range(60):
        h, w = int(rng.integers(30, 800)), int(rng.integers(30, 1100))
        s = Sector(
            (h, w),
            (float(rng.uniform(0, w)), float(rng.uniform(-0.5 * h, 0.3 * h))),
            float(rng.uniform(0.2, 1.5) * h),
            float(-rng.uniform(5, 85)),
            float(rng.uniform(5, 85)),
            float(rng.uniform(0, 0.5) * h) if k % 2 else 0.0,
        )
        for size in ((h, w), (int(rng.integers(20, 900)), int(rng.integers(20, 900)))):
            assert np.array_equal(s.mask(size), _dense_mask(s, size)), (k, size, s)
    m = s.region()
    assert not m.flags.writeable and s.region() is m  # cached per size, read-only
    assert s.mask().flags.writeable  # mask() is the caller's own copy


def test_components_equal_a_flood_fill():
    ndimage = pytest.importorskip("scipy.ndimage")
    rng = np.random.default_rng(0)
    for k in range(40):
        m = rng.random((int(rng.integers(1, 90)), int(rng.integers(1, 120)))) < rng.random()
        want, n = ndimage.label(m, structure=np.ones((3, 3)))  # labels in raster order of first pixel
        labels, areas = components(m)
        assert np.array_equal(labels, want) and len(areas) == n + 1, k
        assert np.array_equal(areas[1:], np.bincount(want.ravel(), minlength=n + 1)[1:]) and areas[0] == 0


def test_flat_traces_finds_an_ecg_and_a_bar_not_a_blob():
    m = np.zeros((60, 100), bool)
    m[50, 10:90] = True  # a flat trace
    m[5:30, 95:97] = True  # a narrow bar
    m[10:30, 20:50] = True  # a blob
    out = flat_traces(m)
    assert out[50, 10:90].all() and out[5:30, 95:97].all() and not out[10:30, 20:50].any()


def test_block_means_of_a_screen_frame_equal_the_float_path():
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (101, 133, 3), dtype=np.uint8)
    fr = ScreenFrame(image)
    gray = image.max(axis=2)
    for f in (1, 2, 4, 7, 17):
        h, w = 101 // f * f, 133 // f * f
        want = gray[:h, :w].reshape(h // f, f, w // f, f).astype(np.float64).mean(axis=(1, 3))
        assert np.allclose(fr.small(f), want, atol=1e-4)
        assert np.array_equal(fr.small(f), block_mean(gray.astype(np.float32), f))


@pytest.mark.parametrize(
    "size_hw", ((100, 150), (240, 320), (300, 400), *SIZES), ids=lambda s: f"{s[1]}x{s[0]}"
)
def test_the_gate_grid_equals_its_fitted_formulation(size_hw):
    """ScreenFrame.grid (from the cached brightest channel, integer sums) gives the numbers the gate
    model was fitted on: block means of gray() of the (2x subsampled when large) frame, float path."""
    rng = np.random.default_rng(size_hw[0])
    for image in (
        rng.integers(0, 256, (*size_hw, 3), dtype=np.uint8),
        rng.integers(0, 256, size_hw, dtype=np.uint8),
    ):
        sub = image[::2, ::2] if max(size_hw) >= 480 else image
        f = block_factor(sub.shape[:2], 160)
        small, got_sub, got_f = ScreenFrame(image).grid(160)
        assert got_f == f and np.array_equal(got_sub, sub)
        assert small.dtype == np.float32 and np.array_equal(small, block_mean(gray(sub), f))
        want = sub if sub.ndim == 2 else sub.max(axis=2)
        assert np.array_equal(ScreenFrame(image).grid_gray(160), want)


def test_each_grid_is_computed_once_per_frame(monkeypatch):
    """sector + mode + prepare on one frame: the tracker's grid and the gate's grid once each, and one
    grid only where they are the same computation (a 320x240 frame: 2x2 block means for both)."""
    calls = []

    def counting(a, f):
        calls.append((a.shape, f))
        return block_mean(a, f)

    monkeypatch.setattr(_screen, "block_mean", counting)
    pipe = FramePipeline([SectorStage(), ModeStage(), PrepareStage(CARD)], card=CARD)
    rng = np.random.default_rng(5)
    for size_hw, want in (((480, 640), [((480, 640), 4), ((240, 320), 2)]), ((240, 320), [((240, 320), 2)])):
        screen = render_screen("A4C", rng, size_hw=size_hw)
        calls.clear()
        rec = pipe.run(Frame(screen.image, index=0, timestamp=0.0))
        assert rec.mode == "bmode" and rec.x is not None
        assert calls == want


def _reference(image: np.ndarray, sector: Sector) -> np.ndarray:
    """What the stage computed before: blank the full frame, crop it, then the card's preprocessing."""
    blanked = np.where(_dense_mask(sector, image.shape[:2])[..., None], image, 0).astype(np.uint8)
    top, left, h, w = sector.bbox
    return Preprocessor(CARD)(blanked[top : top + h, left : left + w])


@pytest.mark.parametrize("size_hw", SIZES, ids=lambda s: f"{s[1]}x{s[0]}")
def test_stage_equals_the_full_size_formulation(size_hw):
    rng = np.random.default_rng(size_hw[1])
    screens = [
        render_screen(v, rng, size_hw=size_hw, mode=m)
        for v, m in (("A4C", "bmode"), ("PLAX", "color_doppler"))
    ]
    pipe = FramePipeline([SectorStage({"defer": False}), ModeStage(), PrepareStage(CARD)], card=CARD)
    det, gate = SectorDetector(), ModeGate()
    for s in screens:
        for i in range(3):
            image = np.clip(s.image.astype(np.int16) + rng.integers(-3, 4, s.image.shape), 0, 255).astype(
                np.uint8
            )
            rec = pipe.run(Frame(image, index=i, timestamp=i / 30))
            sector = det.update(image)  # plain arrays: every stage computes its own downsample
            assert rec.sector == sector
            assert rec.mode == gate(image, sector).mode == s.truth.mode
            assert np.array_equal(rec.x, _reference(image, sector))


def test_sector_iou_on_full_resolution_screens():
    rng = np.random.default_rng(4)
    ious = []
    for i in range(8):
        size = SIZES[1 + i % 2]
        s = render_screen(("A4C", "PLAX", "A2C", "PSAX-MV")[i % 4], rng, size_hw=size, furniture=True)
        ious.append(SectorDetector().update(s.image).iou(Sector.from_fan(s.truth)))
    assert np.median(ious) >= 0.96 and min(ious) >= 0.85, ious


def test_window_reestimate_is_deferred_to_idle():
    truth = Sector((150, 200), (100.0, 5.0), 120.0, -35, 35)
    rng = np.random.default_rng(0)
    frames = [(truth.mask() * rng.integers(30, 220, (150, 200))).astype(np.uint8) for _ in range(10)]
    now, later = SectorDetector(window=4), SectorDetector(window=4, defer=True)
    for im in frames[:4]:
        a = now.update(im)
        later.update(im)
    assert now.n_estimates == 2 and later.n_estimates == 1  # the window's estimate is pending
    calls = []
    assert later.idle(lambda: calls.append(1) or len(calls) >= 2)  # a frame came: it pauses
    assert later.n_estimates == 1
    assert later.idle(lambda: True) and later.n_estimates == 1  # a frame is waiting: not one step
    assert later.idle() and not later.idle()  # and goes on from where it was
    assert later.n_estimates == 2 and later.sector == a
    starved = SectorDetector(window=4, defer=True)
    for im in frames[:8]:  # no idle time: the estimate waits, from the window it started on
        starved.update(im)
    assert starved.n_estimates == 1
    starved.update(frames[8])  # a window's worth of frames later it is run in the frame
    assert starved.n_estimates == 2 and starved.sector == a


def test_live_first_frame_gets_a_quick_box_and_the_fan_comes_in_idle_time():
    rng = np.random.default_rng(7)
    s = render_screen("A4C", rng, size_hw=(768, 1024), furniture=True)
    full = SectorDetector().update(s.image)
    live = SectorDetector(defer=True)
    box = live.update(s.image, quick=True)
    assert box.kind == "box" and live.provisional and live.n_estimates == 0
    top, left, h, w = box.box
    ft, fl, fh, fw = full.bbox  # the box holds the fan (block-sized margins)
    assert top <= ft + 16 and left <= fl + 16 and top + h >= ft + fh - 16 and left + w >= fl + fw - 16
    assert live.update(s.image, quick=True) is box  # pending: the box is kept, no second box
    assert live.idle() and not live.provisional and live.n_estimates == 1
    assert live.sector == full  # the full estimate from the first frame
    starved = SectorDetector(defer=True)  # window 8
    for _ in range(6):  # no idle time at all: half a window later a frame runs the estimate itself
        assert starved.provisional is (starved.sector is not None)
        starved.update(s.image, quick=True)
    assert not starved.provisional and starved.sector == full
    offline = SectorDetector(defer=True)
    assert offline.update(s.image) == full  # not live: the first frame waits for the full estimate


def test_a_live_pipeline_gives_the_first_frame_a_quick_box():
    rng = np.random.default_rng(8)
    s = render_screen("PLAX", rng, size_hw=(600, 800), furniture=True)
    pipe = FramePipeline([SectorStage(), ModeStage(), PrepareStage(CARD)], card=CARD)
    pipe.reset(live=True)
    first = pipe.run(Frame(s.image, index=0, timestamp=0.0))
    assert first.live and first.sector.kind == "box" and first.x is not None
    assert pipe.idle()  # the full estimate, between frames
    second = pipe.run(Frame(s.image, index=1, timestamp=1 / 30))
    assert second.sector.kind == "sector" and second.sector == SectorDetector().update(s.image)
    pipe.reset()
    assert not pipe.run(Frame(s.image, index=0, timestamp=0.0)).live


def test_live_mode_gate_decides_from_the_frame_before_in_idle_time():
    rng = np.random.default_rng(9)
    bmode = render_screen("A4C", rng, size_hw=(600, 800), mode="bmode").image
    colour = render_screen("PLAX", rng, size_hw=(600, 800), mode="color_doppler").image
    stage = ModeStage()
    sector = SectorDetector().update(bmode)

    def rec(image, live=True):
        r = FrameRecord(Frame(image, index=0, timestamp=0.0), image, live)
        r.screen, r.sector = ScreenFrame(image), sector
        return r

    calls = []
    real = stage.gate.layout
    stage.gate.layout = lambda *a: calls.append(1) or real(*a)
    first = rec(bmode)
    stage(first)
    assert first.mode == "bmode" and len(calls) == 1  # nothing known yet: tested in the frame
    assert stage.idle() and len(calls) == 2 and not stage.idle()  # the frame's layout, between frames
    nxt = rec(colour)
    stage(nxt)
    assert nxt.mode == "bmode" and len(calls) == 2  # decided by the frame before (same sector)
    stage.idle()
    later = rec(colour)
    stage(later)
    assert later.mode == "color_doppler"  # one frame later
    stage.reset()
    offline = rec(colour, live=False)
    stage(offline)
    assert offline.mode == "color_doppler" and not stage.idle()  # offline: every frame in full


def test_live_mode_decision_carries_over_a_re_estimate_of_the_same_fan_only():
    from dataclasses import replace

    from rtecho.pipeline.ultrasound import _same_place

    fan = Sector((600, 800), (400.0, 20.0), 500.0, -40, 40)
    assert _same_place(fan, replace(fan, radius=490.0, angle_end_deg=41))  # a window re-estimate
    trace_screen_image = Sector((600, 800), kind="box", box=(20, 250, 230, 300))
    assert not _same_place(fan, trace_screen_image)  # the image moved: test the frame at once
    assert _same_place(None, None) and not _same_place(fan, None)


def test_border_check_at_the_ring_pixels_equals_the_whole_grid_formulation():
    from rtecho.ultrasound._geom import box_blur
    from rtecho.ultrasound.sector import _content

    rng = np.random.default_rng(10)
    s = render_screen("A4C", rng, size_hw=(768, 1024), furniture=True)
    det = SectorDetector()
    det.update(s.image)
    proxy_shape = ScreenFrame(s.image).check()[0].shape  # the 4x subsample's blocks
    m = det.sector.region(proxy_shape).astype(np.float32)
    blurred = box_blur(m, 2)
    rings = (m.astype(bool) & ~(blurred > 0.99), (blurred > 0.01) & ~m.astype(bool))
    for k in range(6):
        image = np.clip(s.image.astype(np.int16) + rng.integers(-40, 41, s.image.shape), 0, 255).astype(
            np.uint8
        )
        small = ScreenFrame(image).check()[0]
        content = _content(small, det._level)
        want = [float(content[r].mean()) for r in rings]
        got = det._ring_stats(small)
        for w, g, r in zip(want, got, rings, strict=True):
            assert abs(w - g) <= 1.0 / r.sum() + 1e-12, (k, w, g)  # a tie at the level may flip one pixel


def test_a_live_full_resolution_frame_is_not_de_interleaved_once_the_fan_is_known(monkeypatch):
    """Live 1024x768 RGB stream: after the window estimate a frame's sector check reads the 2x
    subsample and its crop is reduced from the interleaved pixels; neither the full-size planes nor
    the full-size grey image is computed in the frame (the window's block means come in idle time)."""
    rng = np.random.default_rng(11)
    s = render_screen("A4C", rng, size_hw=(768, 1024), furniture=True)
    pipe = FramePipeline([SectorStage({"window": 4}), ModeStage(), PrepareStage(CARD)], card=CARD)
    pipe.reset(live=True)
    calls = []
    real = ScreenFrame.planes
    monkeypatch.setattr(ScreenFrame, "planes", lambda self: calls.append(1) or real(self))
    recs, in_frame = [], []
    for i in range(10):
        image = np.clip(s.image.astype(np.int16) + rng.integers(-3, 4, s.image.shape), 0, 255).astype(
            np.uint8
        )
        calls.clear()
        recs.append(pipe.run(Frame(image, index=i, timestamp=i / 30)))
        in_frame.append(len(calls))
        while pipe.idle():
            pass
    det = pipe.stages[0].detector
    assert det.n_estimates == 2 and recs[-1].sector.kind == "sector"
    assert recs[-1].sector.iou(Sector.from_fan(s.truth)) > 0.95
    assert in_frame[5:] == [0] * 5
    assert all(r.mode == "bmode" and r.x is not None for r in recs)


def test_a_live_stream_notices_a_depth_change_at_full_resolution():
    size = (768, 1024)
    a = Sector(size, (512.0, 20.0), 700.0, -35, 35)
    b = Sector(size, (512.0, 20.0), 460.0, -35, 35)
    rng = np.random.default_rng(12)

    def frame(s):
        return np.repeat((s.mask() * rng.integers(30, 220, size))[..., None], 3, axis=2).astype(np.uint8)

    det = SectorDetector(window=4, defer=True)
    for _ in range(6):
        got = det.update(frame(a), quick=True)
        while det.idle():
            pass
    assert det.sector.iou(a) > 0.9 and det.n_estimates == 2
    det.update(frame(b), quick=True)  # the border check sees it: a new window from this frame
    while det.idle():
        pass
    got = det.update(frame(b), quick=True)
    assert got.iou(b) > 0.9, got


def test_after_an_idle_re_estimate_the_next_frame_finds_the_new_sector_warm(monkeypatch):
    """The window re-estimate ends in idle time with a new sector: the stages after the sector stage
    warm up on the last frame in it (its masks on the gate grid and at full size, the crop's block
    blanking, the gate's layout tests), so the next frame computes none of them; its result is the
    same as a cold pipeline's."""
    from rtecho.runtime import preprocess
    from rtecho.ultrasound import _region

    rng = np.random.default_rng(13)
    s = render_screen("A4C", rng, size_hw=(768, 1024), furniture=True)
    frames = [
        np.clip(s.image.astype(np.int16) + rng.integers(-3, 4, s.image.shape), 0, 255).astype(np.uint8)
        for _ in range(6)
    ]
    card = ModelCard("m", "x", ("A2C", "A4C"), (128, 128), mean=(0.5,), std=(0.25,))
    pipe = FramePipeline([SectorStage({"window": 4}), ModeStage(), PrepareStage(card)], card=card)
    pipe.reset(live=True)
    counts = {"mask": 0, "blank": 0, "layout": 0}
    fan_mask, blank_init, layout = _region._fan_mask, preprocess._BlockBlank.__init__, ModeGate.layout

    def counted(name, fn):
        def wrapper(*a, **k):
            counts[name] += 1
            return fn(*a, **k)

        return wrapper

    monkeypatch.setattr(_region, "_fan_mask", counted("mask", fan_mask))
    monkeypatch.setattr(preprocess._BlockBlank, "__init__", counted("blank", blank_init))
    monkeypatch.setattr(ModeGate, "layout", counted("layout", layout))
    det = pipe.stages[0].detector
    for i, image in enumerate(frames[:4]):
        pipe.run(Frame(image, index=i, timestamp=i / 30))
        while pipe.idle():
            pass
    assert det.n_estimates == 2  # the window's estimate ran in idle (a new Sector object)
    for k in counts:
        counts[k] = 0
    rec = pipe.run(Frame(frames[4], index=4, timestamp=4 / 30))
    assert counts == {"mask": 0, "blank": 0, "layout": 0}, counts
    cold = FramePipeline([SectorStage({"window": 4}), ModeStage(), PrepareStage(card)], card=card)
    cold.stages[0].detector = det  # the same sector, nothing else cached
    assert np.array_equal(cold.run(Frame(frames[4], index=4, timestamp=4 / 30)).x, rec.x)


def test_the_per_frame_tests_of_a_large_frame_read_the_4x_subsample():
    """1024x768: the blank and frozen tests and the border check read block means of every 4th pixel
    (the same numbers as block means of gray()[::4, ::4]); a repeated frame is frozen, a black one
    blank, a live one neither."""
    rng = np.random.default_rng(14)
    s = render_screen("A4C", rng, size_hw=(768, 1024), furniture=True)
    small, f = ScreenFrame(s.image).check()
    sub = gray(s.image[::4, ::4])
    fb = block_factor(sub.shape, 160)
    assert f == 4 * fb and np.array_equal(small, block_mean(sub, fb))
    sector = SectorDetector().update(s.image)
    gate = ModeGate()
    frames = [
        np.clip(s.image.astype(np.int16) + rng.integers(-9, 10, s.image.shape), 0, 255).astype(np.uint8)
    ]
    frames += [frames[0]] * 4
    modes = [gate(im, sector).mode for im in frames]
    assert modes[:3] == ["bmode"] * 3 and modes[-1] == "frozen", modes
    assert ModeGate()(np.zeros_like(s.image), sector).mode == "blank"
