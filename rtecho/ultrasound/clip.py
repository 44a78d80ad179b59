"""Clip-level result for offline files: the clip's view with confidence, and its segments.

A segment is a run of frames with the same reported (smoothed, hysteresis) view; frames in other
modes or without a view are counted but do not end a segment. The clip's view is the view with the
longest total duration; its confidence is the mean smoothed probability of that view over its
frames.

>>> import numpy as np
>>> from rtecho.types import Prediction
>>> ps = [Prediction(i, i / 10, "A4C", 1, np.array([0.2, 0.8]), ("A2C", "A4C"), {}, smoothed_label="A4C",
...       smoothed_probabilities=np.array([0.2, 0.8])) for i in range(5)]
>>> r = summarize_clip(ps)
>>> r.label, round(r.confidence, 2), len(r.segments)
('A4C', 0.8, 1)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rtecho.types import Prediction


@dataclass(frozen=True)
class Segment:
    """Frames ``start_frame..end_frame`` (inclusive) reported as ``label``; times in seconds."""

    label: str
    start_frame: int
    end_frame: int
    start_s: float
    end_s: float
    confidence: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class ClipResult:
    """The clip's view (None when no frame had one), its confidence, segments and mode counts."""

    label: str | None
    confidence: float
    segments: tuple[Segment, ...]
    modes: dict[str, int] = field(default_factory=dict)
    n_frames: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "confidence": round(self.confidence, 6),
            "n_frames": self.n_frames,
            "modes": dict(self.modes),
            "segments": [
                {
                    "label": s.label,
                    "start_frame": s.start_frame,
                    "end_frame": s.end_frame,
                    "start_s": round(s.start_s, 6),
                    "end_s": round(s.end_s, 6),
                    "confidence": round(s.confidence, 6),
                }
                for s in self.segments
            ],
        }


def _view_prob(p: Prediction, label: str) -> float:
    probs = p.smoothed_probabilities if p.smoothed_probabilities is not None else p.probabilities
    if probs is None or label not in p.labels:
        return float("nan")
    return float(probs[p.labels.index(label)])


def summarize_clip(predictions: Iterable[Prediction], frame_period_s: float | None = None) -> ClipResult:
    """Segments and clip view from per-frame predictions (in order).

    A segment ends at the timestamp of the next segment's first frame, or the last frame's
    timestamp plus ``frame_period_s`` (estimated from the timestamps when None).
    """
    preds = list(predictions)
    modes = Counter(p.mode for p in preds if p.ok)
    if frame_period_s is None:
        ts = np.array([p.timestamp for p in preds])
        frame_period_s = float(np.median(np.diff(ts))) if len(ts) > 1 else 0.0
    runs: list[list[Any]] = []  # [label, first pred, last pred, probs]
    for p in preds:
        label = p.smoothed_label if p.smoothed_label is not None else (p.label if p.accepted else None)
        if not p.ok or label is None or p.mode not in ("bmode", "color_doppler"):
            continue
        if runs and runs[-1][0] == label:
            runs[-1][2] = p
            runs[-1][3].append(_view_prob(p, label))
        else:
            runs.append([label, p, p, [_view_prob(p, label)]])
    segments = []
    for k, (label, first, last, probs) in enumerate(runs):
        end = runs[k + 1][1].timestamp if k + 1 < len(runs) else last.timestamp + frame_period_s
        conf = float(np.nanmean(probs)) if np.isfinite(probs).any() else float("nan")
        segments.append(Segment(label, first.frame_index, last.frame_index, first.timestamp, end, conf))
    if not segments:
        return ClipResult(None, 0.0, (), dict(modes), len(preds))
    total: Counter[str] = Counter()
    for s in segments:
        total[s.label] += s.duration_s + 1e-9 * (s.end_frame - s.start_frame + 1)
    best = total.most_common(1)[0][0]
    weights = [
        (s.confidence, s.duration_s) for s in segments if s.label == best and np.isfinite(s.confidence)
    ]
    conf = (
        float(np.average([c for c, _ in weights], weights=[max(d, 1e-9) for _, d in weights]))
        if weights
        else 0.0
    )
    return ClipResult(best, conf, tuple(segments), dict(modes), len(preds))
