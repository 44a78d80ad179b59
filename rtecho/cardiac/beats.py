"""Online beat detection on the LV area curve, and EF beat by beat.

End-diastole (ED) is a maximum of the cavity area, end-systole (ES) the next minimum. The detector is
a hysteresis ("zigzag") tracker over time, not frame counts, so dropped frames and irregular rhythm only
change the sampling of the curve:

- single-frame outliers are set aside (:func:`~rtecho.cardiac.curve.outlier`: area more than
  ``outlier_rel`` off the median of ``+-outlier_s``), the other frames smoothed by a centred
  triangle-weighted mean over ``+-h_s``, ``h_s = min(smooth_s, smooth_rr x RR)`` (0.10 s, or 0.15 of the
  median ED-ED interval, before the first one of the area's autocorrelation period: a segmenter's
  boundary wobble is a few percent of the area per frame, and a fast heart's extremes are narrow);
  a frame is processed ``smooth_s + outlier_s`` after it arrives;
- a running extreme is confirmed when the area has moved ``h`` away from it, with
  ``h = max(hysteresis * (max - min), floor * max)`` over the last ``window_s`` seconds: an extreme is
  reported at most ``h`` of travel (a fraction of a beat) plus that delay after it happened;
- refractory periods come from the plausible heart-rate range (30-200 /min): two ED less than
  ``60 / max_bpm`` s apart keep the larger; ES must follow its ED by ``min_systole_s`` to
  ``max_systole_s`` and shrink the area by ``min_shortening``; one ES per ED;
- ES is moved to the end of its plateau (the frames within ``es_plateau_k`` noise deviations of the
  minimum: the smoothing shifts a minimum followed by a fast refill early), and the volumes at ED and
  ES are the extremes of local quadratic fits over ``+-extreme_s`` (:func:`~rtecho.cardiac.curve.local_fit`;
  a window mean would bias EF low).

A beat (:class:`BeatEvent`) is emitted when its ES is confirmed, with volumes by area-length and
by discs (:mod:`rtecho.cardiac.ef`), EF, heart rate and quality flags:

- ``low_confidence``: the segmenter's mean confidence at ED or ES below ``min_confidence``;
- ``foreshortened``: the ED long axis is shorter than ``0.85`` of the longest ED axis since the last
  reset, or the ES axis shorter than ``0.7`` of the ED axis (the plane slipped off the apex);
- ``view_change``: more than a third of the beat's frames had another view label than its ED frame;
- ``mask_jump``: between two frames of the beat the area changed by more than ``max_area_jump`` or the
  centroid moved more than ``max_centroid_jump`` long axes;
- ``lv_missing``: a frame of the beat had no LV.

The running EF averages the last ``<= 5`` beats without flags. A non-apical view resets and pauses the
tracker (the classifier gates it), a change of view resets it (each once the new label has lasted
``view_hold_s``: a flicker of the classifier does neither); so does an LV absent for ``max_missing_s`` or a gap
in time longer than ``max_gap_s``.

>>> import numpy as np
>>> t = np.arange(0, 4, 1 / 30)
>>> area = 1000 + 150 * np.cos(2 * np.pi * t * 75 / 60)  # 75 /min, ED at t = 0, 0.8, ...
>>> tracker = BeatTracker()
>>> beats = [b for i, (a, s) in enumerate(zip(area, t)) for b in tracker.update(a, 60.0, i, s)]
>>> [b.ed_index for b in beats], round(tracker.heart_rate)
([24, 48, 72, 96], 75)
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np

from rtecho.cardiac.curve import TIME_EPS, AreaCurve, CurveState, Sample
from rtecho.cardiac.ef import area_length_volume, disc_volume, ejection_fraction, mean_ef
from rtecho.cardiac.events import APICAL_VIEWS, FLAGS, BeatEvent, TrackerConfig
from rtecho.cardiac.lv import LVShape, measure_lv
from rtecho.errors import FrameError

__all__ = ["APICAL_VIEWS", "FLAGS", "BeatEvent", "BeatTracker", "TrackerConfig", "track_clip"]


class BeatTracker(AreaCurve):
    """Per-frame LV area in, :class:`BeatEvent` out; call :meth:`update` once per frame."""

    def __init__(
        self, config: TrackerConfig | None = None, spacing: float | tuple[float, float] | None = None
    ):
        self.config = config or TrackerConfig()
        self.spacing = spacing
        self.beats: deque[BeatEvent] = deque(maxlen=self.config.history)
        self._recent: deque[BeatEvent] = deque(maxlen=self.config.last_beats)
        self.notes: deque[str] = deque(maxlen=32)
        self.resets = 0
        self.frames = 0
        self._last_t: float | None = None
        self._frame: tuple[int, float] = (0, 0.0)  # the latest frame's index and time
        self._s = CurveState()
        self.view: str | None = None  # the accepted view (a new label counts after view_hold_s)
        self._cand: str | None = None
        self._cand_since = 0.0

    # ---- public state -------------------------------------------------------------------------
    @property
    def running_ef(self) -> float | None:
        """Mean EF of the last ``<= last_beats`` beats without quality flags since the last reset."""
        return mean_ef((b.ef for b in self._good()), self.config.last_beats)

    @property
    def running_ef_area_length(self) -> float | None:
        return mean_ef((b.ef_area_length for b in self._good()), self.config.last_beats)

    @property
    def heart_rate(self) -> float | None:
        """60 / median of the last ``<= 5`` ED-to-ED intervals (beats/min)."""
        return 60.0 / float(np.median(self._s.rr)) if self._s.rr else None

    def _good(self) -> list[BeatEvent]:
        return list(self._recent)

    def reset(self, reason: str = "") -> None:
        """Forget the curve (beats already emitted stay in :attr:`beats`); ``reason`` goes to :attr:`notes`."""
        if reason:
            self.notes.append(reason)
        self.resets += 1
        self._s = CurveState()
        self._recent.clear()

    # ---- per frame ----------------------------------------------------------------------------
    def update(
        self,
        mask_or_area: np.ndarray | LVShape | float,
        length: float | None = None,
        frame_index: int = 0,
        timestamp: float = 0.0,
        view: str | None = None,
        confidence: float | None = None,
    ) -> list[BeatEvent]:
        """Add one frame: a mask (H, W), an :class:`LVShape`, or an area with its long-axis ``length``.

        ``timestamp`` (s) must increase; ``view`` (a view label or None) gates the tracker; ``confidence``
        is the segmenter's mean probability inside the mask. Returns the beats confirmed by this frame.
        """
        cfg, s = self.config, self._s
        t = float(timestamp)
        if not math.isfinite(t):
            raise FrameError(f"timestamp must be finite, got {timestamp}")
        if self._last_t is not None and t <= self._last_t:
            raise FrameError(f"timestamps must increase: {t:.4f} s after {self._last_t:.4f} s")
        gap = None if self._last_t is None else t - self._last_t
        self._last_t = t
        self._frame = (int(frame_index), t)
        self.frames += 1
        shape = self._shape(mask_or_area, length)
        if not self._view_ok(view, t, frame_index):
            return []
        s = self._s
        if gap is not None and gap > cfg.max_gap_s and (s.samples or s.pending):
            self.reset(f"frame {frame_index}: {gap:.2f} s without frames; tracker reset")
            s = self._s
        if shape.empty:
            s.missing_since = t if s.missing_since is None else s.missing_since
            if t - s.missing_since >= cfg.max_missing_s and (s.samples or s.pending):
                self.reset(f"frame {frame_index}: no LV for {t - s.missing_since:.2f} s; tracker reset")
                self._s.missing_since = t
            return []
        missed = s.missing_since is not None
        s.missing_since = None
        smp = Sample(frame_index, t, shape.area, shape, confidence, view or self.view, missing_before=missed)
        smp.v_al = area_length_volume(shape.area, shape.length)
        smp.v_disc = disc_volume(shape.diameters, shape.length) if shape.diameters.size else math.nan
        s.pending.append(smp)
        out: list[BeatEvent] = []
        delay = cfg.smooth_s + cfg.outlier_s
        while s.pending and (t - s.pending[0].t >= delay - TIME_EPS):
            out += self._advance(s.pending.popleft())
        return out

    def _view_ok(self, view: str | None, t: float, i: int) -> bool:
        """Accept a new view label once it has lasted ``view_hold_s``; True when beats are tracked."""
        cfg = self.config
        if view is None or view == self.view:
            self._cand = None
        elif self.view is None:
            self.view = view
            if view not in APICAL_VIEWS:
                self.notes.append(f"frame {i}: view {view} is not apical; beats paused")
        else:
            if self._cand != view:
                self._cand, self._cand_since = view, t
            if t - self._cand_since >= cfg.view_hold_s:
                old, self.view, self._cand = self.view, view, None
                if view not in APICAL_VIEWS:
                    self.reset(f"frame {i}: view {view} is not apical; beats paused")
                elif old not in APICAL_VIEWS:
                    self.reset(f"frame {i}: view {view}; beats resume")
                elif cfg.reset_on_view_change:
                    self.reset(f"frame {i}: view changed {old} -> {view}; tracker reset")
        return self.view is None or self.view in APICAL_VIEWS

    def flush(self) -> list[BeatEvent]:
        """End of clip: feed the samples still waiting for their smoothing window, then confirm the last
        running extreme if the curve has already turned from it by half the hysteresis ``h / 2``."""
        s = self._s
        out: list[BeatEvent] = []
        while s.pending:
            out += self._advance(s.pending.popleft())
        if s.mode is None or s.ext is None or not s.samples or s.samples[-1] is s.ext:
            return out
        last = s.samples[-1]
        if abs(last.smooth - s.ext.smooth) >= 0.5 * self._h(last):
            c, s.ext = s.ext, last
            out += self._on_min(c, last) if s.mode == "down" else self._on_max(c, last)
            s.mode = "up" if s.mode == "down" else "down"
        return out

    def _h(self, now: Sample) -> float:
        cfg = self.config
        recent = [x.smooth for x in self._s.samples if now.t - x.t <= cfg.window_s]
        top = max(recent)
        return max(cfg.hysteresis * (top - min(recent)), cfg.floor * top)

    # ---- internals ----------------------------------------------------------------------------
    def _shape(self, x: np.ndarray | LVShape | float, length: float | None) -> LVShape:
        if isinstance(x, LVShape):
            return x
        if isinstance(x, np.ndarray) and x.ndim == 2:
            return measure_lv(x, self.spacing)
        area = float(x)
        if not math.isfinite(area) or area < 0:
            raise FrameError(f"LV area must be finite and >= 0, got {x!r}")
        if area == 0:
            return measure_lv(np.zeros((1, 1), bool))
        ln = math.nan if length is None else float(length)
        return LVShape(
            area, ln, np.zeros(0), (math.nan, math.nan), (math.nan, math.nan), (math.nan, math.nan), 1
        )

    def _advance(self, smp: Sample) -> list[BeatEvent]:
        cfg, s = self.config, self._s
        self._smooth(smp)
        s.samples.append(smp)
        while s.samples and smp.t - s.samples[0].t > cfg.window_s + 2.0 / cfg.min_bpm * 60.0:
            s.samples.popleft()
        h = self._h(smp)
        v = smp.smooth
        if s.first is None:
            s.first = smp
        if s.mode is None:  # warm-up: wait for the first move of h to learn the direction
            mx = max(s.samples, key=lambda x: x.smooth)
            mn = min(s.samples, key=lambda x: x.smooth)
            if v < mx.smooth - h:
                s.mode = "down"
                s.ext = min((x for x in s.samples if x.t >= mx.t), key=lambda x: x.smooth)
                return self._on_max(mx, smp) if mx is not s.first else []
            if v > mn.smooth + h:
                s.mode = "up"
                s.ext = max((x for x in s.samples if x.t >= mn.t), key=lambda x: x.smooth)
            return []
        assert s.ext is not None
        if s.mode == "down":
            if v < s.ext.smooth:
                s.ext = smp
            elif v > s.ext.smooth + h:
                c, s.mode, s.ext = s.ext, "up", smp
                return self._on_min(c, smp)
        else:
            if v > s.ext.smooth:
                s.ext = smp
            elif v < s.ext.smooth - h:
                c, s.mode, s.ext = s.ext, "down", smp
                return self._on_max(c, smp)
        return []

    def _on_max(self, c: Sample, now: Sample) -> list[BeatEvent]:
        cfg, s = self.config, self._s
        refractory = 60.0 / cfg.max_bpm
        if s.ed is not None and c.t - s.ed.t < refractory:
            if not s.ed_paired and c.smooth > s.ed.smooth:
                s.ed = c  # a notch inside one diastole: keep the larger maximum
            return []
        if s.ed is not None and s.ed_paired and s.last_ed_t is not None:
            rr = c.t - s.last_ed_t
            if rr <= 60.0 / cfg.min_bpm:
                s.rr.append(rr)
        s.ed, s.ed_paired = c, False
        return []

    def _on_min(self, c: Sample, now: Sample) -> list[BeatEvent]:
        cfg, s = self.config, self._s
        ed = s.ed
        if ed is None or s.ed_paired:
            return []
        dt = c.t - ed.t
        if dt < cfg.min_systole_s:
            return []  # a dip too soon after ED: noise, keep waiting
        if dt > cfg.max_systole_s or (ed.smooth - c.smooth) < cfg.min_shortening * ed.smooth:
            s.ed = None  # stale or no contraction: this ED has no beat
            return []
        c = self._es_frame(c)
        s.ed_paired = True
        s.last_ed_t = ed.t
        beat = self._beat(ed, c, now)
        if beat.ok:
            self._recent.append(beat)
        beat = _with_running(beat, self.running_ef)
        self.beats.append(beat)
        return [beat]

    def _beat(self, ed: Sample, es: Sample, now: Sample) -> BeatEvent:
        cfg, s = self.config, self._s
        a, b = ed.shape, es.shape
        inside = [x for x in s.samples if ed.t <= x.t <= es.t]
        flags: list[str] = []
        confs = [x.conf for x in (ed, es) if x.conf is not None]
        if confs and min(confs) < cfg.min_confidence:
            flags.append("low_confidence")
        if math.isfinite(a.length):
            s.max_ed_length = max(s.max_ed_length, a.length)
            if a.length < 0.85 * s.max_ed_length or (math.isfinite(b.length) and b.length < 0.7 * a.length):
                flags.append("foreshortened")
        if inside and sum(x.view is not None and x.view != ed.view for x in inside) > len(inside) / 3:
            flags.append("view_change")
        if _jumped(inside, cfg):
            flags.append("mask_jump")
        if any(x.missing_before for x in inside[1:]):
            flags.append("lv_missing")
        edv_al, edv_d = self._volumes(ed, 1)  # local fits: one frame's segmentation noise averages out
        esv_al, esv_d = self._volumes(es, -1)
        return BeatEvent(
            ed_index=ed.index,
            es_index=es.index,
            ed_time=ed.t,
            es_time=es.t,
            eda=ed.smooth,
            esa=es.smooth,
            ed_length=a.length,
            es_length=b.length,
            edv_area_length=edv_al,
            esv_area_length=esv_al,
            edv_disc=edv_d,
            esv_disc=esv_d,
            ef_area_length=ejection_fraction(edv_al, esv_al),
            ef_disc=ejection_fraction(edv_d, esv_d)
            if a.diameters.size
            else ejection_fraction(edv_al, esv_al),
            heart_rate=self.heart_rate,
            quality=tuple(flags),
            emitted_index=self._frame[0],  # the frame being added when the beat is confirmed
            emitted_time=self._frame[1],
            view=ed.view,
        )


def _with_running(beat: BeatEvent, running: float | None) -> BeatEvent:
    from dataclasses import replace

    return replace(beat, running_ef=running)


def _jumped(inside: list[Sample], cfg: TrackerConfig) -> bool:
    for p, q in zip(inside, inside[1:], strict=False):
        if abs(q.area - p.area) > cfg.max_area_jump * max(p.area, q.area):
            return True
        (px, py), (qx, qy) = p.shape.centroid_xy, q.shape.centroid_xy
        ln = _px_length(p)
        if math.isfinite(px + qx + ln) and math.hypot(qx - px, qy - py) > cfg.max_centroid_jump * ln:
            return True
    return False


def _px_length(p: Sample) -> float:
    (ax, ay), (bx, by) = p.shape.apex_xy, p.shape.base_xy
    return math.hypot(bx - ax, by - ay)


def track_clip(
    areas_or_masks: Any,
    times: np.ndarray,
    lengths: np.ndarray | None = None,
    indices: np.ndarray | None = None,
    config: TrackerConfig | None = None,
    spacing: float | tuple[float, float] | None = None,
    views: list[str | None] | None = None,
    confidences: np.ndarray | None = None,
) -> tuple[list[BeatEvent], BeatTracker]:
    """Run a :class:`BeatTracker` over a whole clip (masks (T, H, W), shapes, or areas with ``lengths``)."""
    tracker = BeatTracker(config, spacing)
    beats: list[BeatEvent] = []
    n = len(times)
    for i in range(n):
        x = areas_or_masks[i]
        beats += tracker.update(
            x,
            None if lengths is None else float(lengths[i]),
            int(i if indices is None else indices[i]),
            float(times[i]),
            None if views is None else views[i],
            None if confidences is None else float(confidences[i]),
        )
    beats += tracker.flush()
    return beats, tracker
