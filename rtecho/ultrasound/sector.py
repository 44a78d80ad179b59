"""Imaging sector (fan) detection: find where the ultrasound image lies on a scanner screen.

Method (numpy only), on a copy downsampled to about 192 px on the long side:

1. content: block-mean intensity (brightest channel, so colour Doppler counts) above a low
   threshold over the screen's black level (the faint echo of a dark fan's edge counts; a frame
   grabber's noisy black does not), without line-like furniture (a wide flat ECG trace, narrow vertical grey/colour
   bars, also where they touch the fan); an opening (3x3) removes text strokes, ticks and thin
   bridges; with several frames, pixels that are static while the image moves are furniture;
2. the image component: the largest connected blob of the (lightly dilated) opened content;
3. candidate fans (:mod:`rtecho.ultrasound._fanfit`): (a) the fan edges as robust *supporting* lines of
   the component's leftmost/rightmost pixel per row (dark gaps inside the fan only move those
   inwards), meeting at the apex; (b) the component's pointed top as apex, angles from the opened
   content seen from it; (c) for mostly dark fans, the top of the highest blob in the middle of
   the frame as apex, angles from all sizeable content. For each, the outer radius is voted by
   angle bins from the farthest content inside the wedge, thin far arcs and haze included (an ECG
   trace crossing under the fan and specks are left out); an inner radius is kept for curvilinear
   probes;
4. the first candidate (in that order) that leaves out hardly more content than the best wins;
   a fan tilted by more than a few degrees has an edge lost in the dark and is mirrored from its
   other edge (phased-array sectors are symmetric about the vertical through the apex).

When no fan is found (linear probe: parallel edges; already-cropped input; too little content)
the result is a ``box``: the bounding box of the content, or the whole frame.

>>> import numpy as np
>>> s = Sector((100, 120), apex_xy=(60.0, 0.0), radius=90.0, angle_start_deg=-40, angle_end_deg=40)
>>> s.mask().shape, s.bbox
((100, 120), (1, 3, 89, 114))
>>> round(s.iou(s), 3)
1.0
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from typing import TypeVar

import numpy as np

from rtecho.types import check_image
from rtecho.ultrasound._candidates import fit_sector_steps
from rtecho.ultrasound._geom import block_factor, block_mean, box_blur, components, flat_traces, vertical_bars
from rtecho.ultrasound._region import KINDS, Sector
from rtecho.ultrasound._screen import ScreenFrame

__all__ = ["KINDS", "Sector", "SectorDetector", "detect_sector"]

T = TypeVar("T")


# -- detection ------------------------------------------------------------------------------------


def _content(small: np.ndarray, threshold: float) -> np.ndarray:
    return box_blur(small, 1) > threshold


def _level(mean: np.ndarray, threshold: float) -> float:
    """The content threshold above the screen's black level (0 on a digital screen, a few grey
    levels through a frame grabber): ``threshold`` plus twice the 10th percentile of the block means."""
    return threshold + 2.0 * float(np.percentile(mean, 10))


def _choose_component(mask: np.ndarray, static: np.ndarray | None) -> np.ndarray | None:
    labels, areas = components(mask)
    if len(areas) <= 1:
        return None
    if static is not None:
        stat_area = np.bincount(labels.ravel(), weights=static.ravel(), minlength=len(areas))
        areas = np.where(stat_area > 0.9 * np.maximum(areas, 1), 0, areas)
    best = int(np.argmax(areas))
    if areas[best] == 0:
        return None
    return labels == best


def _box_from(comp: np.ndarray, f: int, size_hw: tuple[int, int], score: float) -> Sector:
    rows, cols = np.flatnonzero(comp.any(axis=1)), np.flatnonzero(comp.any(axis=0))
    top, left = int(rows[0]) * f, int(cols[0]) * f
    bottom = min(size_hw[0], (int(rows[-1]) + 1) * f)
    right = min(size_hw[1], (int(cols[-1]) + 1) * f)
    return Sector(size_hw, kind="box", box=(top, left, bottom - top, right - left), score=score)


def detect_sector(
    images: np.ndarray | list[np.ndarray] | tuple[np.ndarray, ...],
    threshold: float = 1.0,
    target: int = 192,
) -> Sector:
    """Estimate the imaging sector from one frame or a window of frames of equal size.

    Falls back to the content's bounding box (``kind="box"``) for linear probes and cropped input,
    and to the whole frame when there is almost no content.

    >>> import numpy as np
    >>> img = Sector((120, 160), (80.0, 5.0), 100.0, -35, 35).mask().astype(np.uint8) * 120
    >>> s = detect_sector(img)
    >>> s.kind, round(s.iou(Sector((120, 160), (80.0, 5.0), 100.0, -35, 35)), 2) >= 0.95
    ('sector', True)
    """
    frames = [images] if isinstance(images, np.ndarray) else list(images)
    if not frames:
        raise ValueError("detect_sector needs at least one frame")
    frames = [check_image(im) for im in frames]
    size_hw = (int(frames[0].shape[0]), int(frames[0].shape[1]))
    if any(im.shape[:2] != size_hw for im in frames):
        raise ValueError("detect_sector: all frames of a window must have the same size")
    f = block_factor(size_hw, target)
    smalls = np.stack([ScreenFrame(im).small(f) for im in frames])
    return _detect_small(smalls, f, size_hw, threshold)


def _above(mean: np.ndarray, threshold: float) -> np.ndarray:
    """Content above the black level, without the ECG trace and grey/colour scale bars."""
    return run_steps(_above_steps(mean, threshold))


def _above_steps(mean: np.ndarray, threshold: float) -> Generator[None, None, np.ndarray]:
    above = mean > _level(mean, threshold)
    traces = flat_traces(above)
    yield
    above &= ~(traces | vertical_bars(above))
    return above


def _opened(above: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(opened content, its light dilation): the opening (3x3) removes thin lines (text strokes,
    ticks, far arcs) and thin bridges to the fan."""
    raw = box_blur((box_blur(above.astype(np.float32), 1) > 0.99).astype(np.float32), 1) > 0.01
    return raw, box_blur(raw.astype(np.float32), 1) > 0.2


def quick_sector(small: np.ndarray, f: int, size_hw: tuple[int, int], threshold: float = 1.0) -> Sector:
    """A provisional sector in a few ms, for the first frame of a live stream while the full estimate
    waits for idle time: the bounding box (``kind="box"``) of the image component the full estimate
    starts from (content without furniture lines, opened, the largest blob), found on 2x2 means of
    the block means ``small``; the whole frame when there is almost no content."""
    half = block_mean(small, 2) if min(small.shape) >= 48 else small
    g = f * (small.shape[0] // half.shape[0])
    raw, mask = _opened(_above(half, threshold))
    comp = None if mask.mean() < 0.01 else _choose_component(mask, None)
    if comp is None:
        return Sector.whole(size_hw)
    return _box_from(comp, g, size_hw, float(comp.mean()))


def _taps3(mask: np.ndarray) -> np.ndarray:
    """(9, n) flat indices of the 3x3 neighbourhood (edge replicated, as :func:`box_blur`) of each
    True pixel of ``mask``."""
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    d = np.array([-1, 0, 1])
    yy = np.clip(ys[None, :] + np.repeat(d, 3)[:, None], 0, h - 1)
    xx = np.clip(xs[None, :] + np.tile(d, 3)[:, None], 0, w - 1)
    return yy * w + xx


def _detect_small(smalls: np.ndarray, f: int, size_hw: tuple[int, int], threshold: float) -> Sector:
    return run_steps(_detect_steps(smalls, f, size_hw, threshold))


def run_steps(steps: Generator[None, None, T]) -> T:
    """Run a stepwise computation (a generator that yields between its phases) to its result."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


def _detect_steps(
    smalls: np.ndarray, f: int, size_hw: tuple[int, int], threshold: float
) -> Generator[None, None, Sector]:
    """:func:`detect_sector` on block means, yielding between its phases (a few ms each), so that a
    deferred estimate can pause whenever a frame arrives (:meth:`SectorDetector.idle`)."""
    mean = smalls.mean(axis=0)
    above = yield from _above_steps(mean, threshold)
    yield
    raw, mask = _opened(above)
    if mask.mean() < 0.01:
        return Sector.whole(size_hw)
    static = None
    if len(smalls) >= 3:
        std = box_blur(smalls.std(axis=0), 1)
        if np.median(std[mask]) > 0.5:  # the image moves: static components are furniture
            static = std < 0.25
    yield
    comp = _choose_component(mask, static)
    if comp is None:
        return Sector.whole(size_hw)
    score = float(comp.mean())
    content = raw if static is None else raw & ~static
    yield
    sector = yield from fit_sector_steps(
        comp & raw,
        above if static is None else above & ~static,
        content,
        mean,
        f,
        size_hw,
        np.random.default_rng(0),
    )
    if sector is None:
        return _box_from(comp, f, size_hw, score)
    return sector


class SectorDetector:
    """Tracks the sector of a stream: re-estimated from a running window and on geometry changes.

    Each :meth:`update` stores a downsampled copy of the frame while an estimate may read it; the
    sector is estimated on the first frame and again once ``window`` frames are there (temporal
    variance separates static furniture from the moving image); after that only when the geometry
    may have changed: a cheap per-frame check compares the content just inside and just outside the
    current border with what it was when the sector was estimated (on
    :meth:`ScreenFrame.check <rtecho.ultrasound._screen.ScreenFrame.check>`: the mode gate's grid,
    a subsample's block means on large frames), and a change above ``change_threshold`` (depth or
    zoom change) restarts the window from the current frame. On a live stream (``quick`` with ``defer``) the
    window's downsampled copies are made in :meth:`idle`. ``every`` (default None: never) adds a
    re-estimate every that many frames. A change of frame size resets everything.

    ``defer=True`` (the stream stage's setting) leaves the window re-estimate (and the periodic one)
    to :meth:`idle`, which the stream processor calls when its worker has nothing to do, instead of
    doing it inside the frame that completes the window: that frame keeps the current sector and no
    frame pays for the estimate; an :meth:`update` that finds it still pending runs it first. A
    geometry change is always re-estimated at once (the current sector is wrong).

    >>> import numpy as np
    >>> det = SectorDetector()
    >>> img = Sector((120, 160), (80.0, 5.0), 100.0, -35, 35).mask().astype(np.uint8) * 120
    >>> det.update(img).kind
    'sector'
    """

    def __init__(
        self,
        window: int = 8,
        every: int | None = None,
        change_threshold: float = 0.3,
        threshold: float = 1.0,
        target: int = 192,
        defer: bool = False,
    ) -> None:
        if window < 1 or (every is not None and every < 1):
            raise ValueError("window and every must be >= 1")
        self.window, self.every, self.defer = window, every, defer
        self.change_threshold, self.threshold, self.target = change_threshold, threshold, target
        self.reset()

    def reset(self) -> None:
        """Forget the window and the current sector."""
        self.sector: Sector | None = None
        # the window's block means; a live frame's are left to idle (its ScreenFrame waits here), and
        # None stands for a frame whose block means no estimate will read (see _keep_window)
        self._frames: deque[np.ndarray | ScreenFrame | None] = deque(maxlen=self.window)
        self._size: tuple[int, int] | None = None
        self._since = 0
        self._ref: tuple[float, float] | None = None
        self._last: np.ndarray | None = None  # the last frame's ring-check blocks
        self._rings: tuple[np.ndarray, np.ndarray] | None = None  # (9, n) flat 3x3 taps of each ring
        self._level = self.threshold
        self._job: Generator[None, None, Sector] | None = None  # a deferred estimate, in steps
        self._job_age = 0
        self._provisional = False
        self.n_estimates = 0

    def _ring_stats(self, small: np.ndarray) -> tuple[float, float]:
        """Content fractions just inside and just outside the sector's border: the content test
        (3x3 box mean above the level, as :func:`_content`) evaluated at the ring pixels only, on the
        frame's :meth:`ScreenFrame.check <rtecho.ultrasound._screen.ScreenFrame.check>` grid (the
        reference and every frame's check are taken on the same grid, so they compare)."""
        assert self._rings is not None
        flat = small.ravel().astype(np.float64)
        out = []
        for taps in self._rings:
            out.append(
                float((flat[taps].sum(axis=0) * (1.0 / 9.0) > self._level).mean()) if taps.size else 0.0
            )
        return out[0], out[1]

    def _estimate_steps(self, f: int, full_size: bool) -> Generator[None, None, Sector]:
        """Estimate from the window as it is now (a snapshot, taken here), then take the result;
        ``full_size`` also computes the new sector's full-size mask and box, for the next frame."""
        assert self._size is not None and self._last is not None
        entries = [e for e in self._frames if e is not None]
        return self._steps(entries, self._last, self._size, f, full_size)

    def _small(self, i: int, f: int) -> np.ndarray:
        """The block means of window frame ``i``, computed now if they were left to idle."""
        entry = self._frames[i]
        if isinstance(entry, ScreenFrame):
            entry = self._frames[i] = entry.small(f)
        assert entry is not None
        return entry

    def _keep_window(self) -> bool:
        """Whether an estimate may still read the window's block means: before the window estimate
        (the first two) or with periodic re-estimates; a geometry change starts a new window."""
        return self.every is not None or self.n_estimates < 2

    def _steps(
        self,
        entries: list[np.ndarray | ScreenFrame],
        last: np.ndarray,
        size: tuple[int, int],
        f: int,
        full_size: bool,
    ) -> Generator[None, None, Sector]:
        smalls = []
        for e in entries:  # a live frame's block means (cached in its ScreenFrame), one a step
            if isinstance(e, ScreenFrame):
                yield
                e = e.small(f)
            smalls.append(e)
        sector = yield from _detect_steps(np.stack(smalls), f, size, self.threshold)
        yield
        hs, ws = last.shape
        m = sector.region((hs, ws)).astype(np.float32)
        blurred = box_blur(m, 2)
        grown, shrunk = blurred > 0.01, blurred > 0.99
        rings = (m.astype(bool) & ~shrunk, grown & ~m.astype(bool))
        if full_size:
            yield
            sector.region(size)
            _ = sector.bbox
        self.sector, self._since, self._rings = sector, 0, (_taps3(rings[0]), _taps3(rings[1]))
        self._provisional = False
        self.n_estimates += 1
        self._level = _level(last, self.threshold)
        self._ref = self._ring_stats(last)
        return sector

    @property
    def provisional(self) -> bool:
        """The current sector is a provisional box; its full estimate is pending."""
        return self._provisional

    def _first(self, frame: ScreenFrame, f: int, size: tuple[int, int], quick: bool) -> Sector:
        """The first estimate of a window: now, or (``quick`` with ``defer``) a provisional box now
        and the full estimate left to :meth:`idle`."""
        if not (quick and self.defer):
            return self._estimate(f)
        self.sector = quick_sector(frame.small(f), f, size, self.threshold)
        self._provisional = True
        self._job, self._job_age = self._estimate_steps(f, full_size=True), 0
        return self.sector

    def _estimate(self, f: int) -> Sector:
        self._job = None
        return run_steps(self._estimate_steps(f, full_size=False))

    def idle(self, stop: Callable[[], bool] | None = None) -> bool:
        """Run a deferred re-estimate, step by step, until it is done or ``stop()`` says a frame is
        waiting (it goes on at the next call); True when there was one. ``stop()`` is asked before
        every step, so a frame that came during earlier idle work waits for no step of this one. The
        new sector's full-size mask and box are computed here too, so that the next frame finds them
        ready."""
        if self._job is None:
            return self._idle_blocks(stop)
        while True:
            if stop is not None and stop():
                return True
            try:
                next(self._job)
            except StopIteration:
                self._job = None
                return True

    def _idle_blocks(self, stop: Callable[[], bool] | None) -> bool:
        """The block means of the window's live frames that an estimate may read, one frame a step."""
        pending = [i for i, e in enumerate(self._frames) if isinstance(e, ScreenFrame)]
        if not pending:
            return False
        assert self._size is not None
        f = block_factor(self._size, self.target)
        for i in pending:
            if stop is not None and stop():
                break
            self._small(i, f)
        return True

    def _add(self, frame: ScreenFrame, f: int, live: bool) -> None:
        """Put ``frame`` in the window: its block means now, or (``live``) its ScreenFrame for idle to
        reduce, or None when no estimate will read them; ``_last`` keeps its ring-check blocks."""
        if not self._keep_window():
            entry: np.ndarray | ScreenFrame | None = None
        else:
            entry = frame if live else frame.small(f)
        self._frames.append(entry)
        self._last = frame.check()[0]

    def _due(self, f: int) -> Sector:
        if not self.defer:
            return self._estimate(f)
        if self._job is None:
            self._job, self._job_age = self._estimate_steps(f, full_size=True), 0
        assert self.sector is not None
        return self.sector

    def update(self, image: np.ndarray | ScreenFrame, quick: bool = False) -> Sector:
        """Add one frame (a :class:`ScreenFrame` shares its downsampled copy with the mode gate);
        returns the current sector estimate.

        ``quick`` (a live stream, with ``defer``): when there is no estimate yet (the first frame, a
        new frame size, a geometry change), return a provisional box (:func:`quick_sector`, a few ms
        instead of tens) and leave the full estimate from this frame to :meth:`idle`; an update that
        finds it still pending half a window later runs it first."""
        frame = ScreenFrame.of(image)
        size = frame.size_hw
        if size != self._size:
            self.reset()
            self._size = size
        if self._job is not None:  # deferred: from the window it was started on
            self._job_age += 1
            if self._job_age > (self.window // 2 if self.provisional else self.window):  # no idle time came
                run_steps(self._job)
                self._job = None
        f = block_factor(size, self.target)
        live = quick and self.defer
        self._add(frame, f, live)
        self._since += 1
        if self.provisional:  # the full estimate is still pending: keep the box meanwhile
            return self.sector
        if self.sector is None:
            return self._first(frame, f, size, quick)
        if len(self._frames) == self.window and self.n_estimates == 1:
            return self._due(f)
        assert self._ref is not None
        inner, outer = self._ring_stats(frame.check()[0])
        if (
            abs(inner - self._ref[0]) > self.change_threshold
            or abs(outer - self._ref[1]) > self.change_threshold
        ):
            self._frames.clear()
            self.n_estimates = 0
            self._add(frame, f, live)
            return self._first(frame, f, size, quick)
        if self.every is not None and self._since >= self.every:
            return self._due(f)
        return self.sector
