"""The Live tab's per-frame step: classify a webcam frame, draw the overlay, keep the readout.

Round-trip fps is measured on the server as the rate at which a session's frames arrive (each
arrives after the previous result went back, so it includes the browser, network and encoding).

>>> stats = LiveStats()
>>> image, readout = live_step(frame_rgb, cache.processor("tiny-untrained"), overlay, stats)  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections import deque

import numpy as np

from rtecho.pipeline import LatencyRecorder, StreamProcessor
from rtecho.types import Prediction
from rtecho.viz import Annotator


class LiveStats:
    """One browser session's live counters: frames, errors and a sliding window of arrival times."""

    def __init__(self, window: int = 40) -> None:
        self.frames = 0
        self.errors = 0
        self.arrivals: deque[float] = deque(maxlen=window)
        self.last_ms: dict[str, float] = {}
        self.overlay: Annotator | None = None  # this session's overlay (the LV area trace is per stream)

    def arrive(self, now: float | None = None) -> None:
        """Count a frame arriving now; a gap over 2 s starts a new window (a paused stream)."""
        now = time.perf_counter() if now is None else now
        if self.arrivals and now - self.arrivals[-1] > 2.0:
            self.arrivals.clear()
        self.arrivals.append(now)
        self.frames += 1

    @property
    def fps(self) -> float | None:
        """Frames per second over the window (None until two frames arrived)."""
        if len(self.arrivals) < 2:
            return None
        span = self.arrivals[-1] - self.arrivals[0]
        return (len(self.arrivals) - 1) / span if span > 0 else None

    def readout(self, pred: Prediction | None, model: str, backend: str) -> str:
        """One line for the readout box."""
        fps = self.fps
        fps_text = f"{fps:5.1f} fps round trip" if fps is not None else "  -   fps round trip"
        if pred is None or not pred.ok:
            what = f"error: {pred.error}" if pred is not None else "waiting for frames"
            return f"frame {self.frames} | {what} | {fps_text} | {model} on {backend}"
        t = pred.timings_ms
        label = f"{pred.label} {pred.confidence:.0%}"
        if pred.lv is not None:  # the cardiac stages on an apical view
            ef, hr = pred.lv.get("ef"), pred.lv.get("heart_rate")
            label += f" | EF {ef:.0f}%" if ef is not None else " | EF --"
            label += f" HR {hr:.0f}" if hr is not None else ""
        return (
            f"frame {self.frames} | {label} | latency {t.get('end_to_end', float('nan')):.1f} ms "
            f"(infer {t.get('infer', float('nan')):.1f} ms, overlay {self.last_ms.get('overlay', 0.0):.1f} ms) "
            f"| {fps_text} | {model} on {backend}"
        )


def live_step(
    image: np.ndarray | None,
    proc: StreamProcessor,
    overlay: Annotator,
    stats: LiveStats,
    recorder: LatencyRecorder | None = None,
) -> tuple[np.ndarray | None, Prediction | None]:
    """Classify one webcam frame with ``proc`` and return (annotated RGB image, prediction).

    A frame that cannot be processed gives an error prediction and the frame back unannotated;
    no frame (the stream just started) gives (None, None).
    """
    if image is None:
        return None, None
    stats.arrive()
    pred = proc.process(image)
    if not pred.ok:
        stats.errors += 1
        return image if isinstance(image, np.ndarray) else None, pred
    t0 = time.perf_counter()
    annotated = overlay.annotate(image, pred, fps=stats.fps)
    stats.last_ms = {"overlay": (time.perf_counter() - t0) * 1e3}
    if recorder is not None:
        recorder.add(pred)
    return annotated, pred
