"""Predictions built by hand for the rtecho.viz tests."""

from __future__ import annotations

import numpy as np

from rtecho.types import Prediction

LABELS = ("A2C", "A3C", "A4C", "A5C", "PLAX", "PSAX-AV", "OTHER")


def make_prediction(frame_index: int = 0, top: str = "A4C", p_top: float = 0.82, **kw) -> Prediction:
    """A valid prediction with ``top`` at ``p_top`` and the rest spread evenly."""
    idx = LABELS.index(top)
    probs = np.full(len(LABELS), (1.0 - p_top) / (len(LABELS) - 1), np.float32)
    probs[idx] = p_top
    kw.setdefault("timings_ms", {"infer": 1.2, "end_to_end": 2.0})
    return Prediction(
        frame_index=frame_index,
        timestamp=frame_index / 30.0,
        label=top,
        index=idx,
        probabilities=probs,
        labels=LABELS,
        model="tiny",
        backend="onnxruntime",
        **kw,
    )


def make_error(frame_index: int = 0, error: str = "decode failed: truncated packet") -> Prediction:
    return Prediction(
        frame_index=frame_index,
        timestamp=frame_index / 30.0,
        label=None,
        index=None,
        probabilities=None,
        labels=LABELS,
        timings_ms={"decode": 0.5},
        model="tiny",
        backend="onnxruntime",
        error=error,
    )
