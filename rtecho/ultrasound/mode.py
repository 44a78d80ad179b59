"""Per-frame scan mode from cheap image statistics (numpy only).

Modes (:data:`rtecho.views.MODES`), tested in this order:

- ``blank``: almost no content in the imaging region (less than ``blank_fraction`` of it above
  the noise floor): a blank, menu or disconnected screen;
- ``frozen``: the imaging region is identical (mean absolute difference below ``frozen_diff``
  grey levels) over the last ``frozen_frames`` frame pairs;
- ``spectral_doppler`` / ``mmode``: a trace screen (spectral or tissue Doppler, M-mode): a small 2-D
  image above or beside a wide band whose rows are a rectangle (not a widening fan), which starts
  abruptly, holds the same vertical profile in every strip across it and horizontal lines (a baseline,
  tissue layers). A small net (one tanh layer) on the layout features of
  :mod:`rtecho.ultrasound._mode_features` says trace screen or not (only where a band at least
  ``MIN_BAND_HEIGHT`` tall and ``MIN_BAND_WIDTH`` wide exists), then a logistic regression says
  M-mode or spectral; weights in ``rtecho/data/mode_gate.json``, fitted by
  ``benchmarks/fit_mode_gate.py`` on simulator screens and permissively licensed real B-mode frames;
- ``color_doppler``: saturated colour (max - min over RGB above ``chroma``) in compact blobs
  covering more than ``color_fraction`` of the imaging region: still classified, marked;
- ``bmode`` otherwise.

>>> import numpy as np
>>> ModeGate()(np.zeros((120, 160), np.uint8)).mode
'blank'
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from rtecho.errors import RtechoError
from rtecho.types import CLASSIFIED_MODES
from rtecho.ultrasound._geom import block_mean, channel_min
from rtecho.ultrasound._mode_features import FEATURES, layout_features
from rtecho.ultrasound._screen import ScreenFrame
from rtecho.ultrasound.sector import Sector

GATE_MODEL = Path(__file__).resolve().parents[1] / "data" / "mode_gate.json"
# the smallest band of a trace screen (fractions of the frame; simulator trace screens: >= 0.10 tall
# and >= 0.5 wide, 1st percentiles 0.15 and 0.66)
MIN_BAND_HEIGHT, MIN_BAND_WIDTH = 0.1, 0.45
_BAND_HEIGHT, _BAND_WIDTH = FEATURES.index("band_height"), FEATURES.index("band_width")


class ModeModelError(RtechoError, ValueError):
    """The mode gate's model file is missing or does not match the features."""


@dataclass(frozen=True, eq=False)
class TraceModel:
    """Standardisation, the trace-screen classifier and the M-mode-given-trace logistic regression.

    The trace logit is a logistic regression ``z . trace_w + trace_b`` or, when ``hidden_w`` is set, a
    one-hidden-layer net ``tanh(z @ hidden_w.T + hidden_b) . trace_w + trace_b``, with ``z`` the
    standardised features.
    """

    mean: np.ndarray
    std: np.ndarray
    trace_w: np.ndarray
    trace_b: float
    mmode_w: np.ndarray
    mmode_b: float
    hidden_w: np.ndarray | None = None
    hidden_b: np.ndarray | None = None

    def logits(self, features: np.ndarray) -> tuple[float, float]:
        """(trace-screen logit, M-mode logit) of one feature vector."""
        z = (features - self.mean) / self.std
        h = z if self.hidden_w is None else np.tanh(self.hidden_w @ z + self.hidden_b)
        return float(h @ self.trace_w + self.trace_b), float(z @ self.mmode_w + self.mmode_b)


@lru_cache(maxsize=4)
def load_trace_model(path: str | Path = GATE_MODEL) -> TraceModel:
    """Read a gate model JSON written by ``benchmarks/fit_mode_gate.py``."""
    try:
        d = json.loads(Path(path).read_text())
        if list(d["features"]) != list(FEATURES):
            raise ModeModelError(f"mode gate model {path}: features {d['features']} != {list(FEATURES)}")
        f = np.asarray
        mlp = d.get("trace_mlp")
        trace = {"w": mlp["w2"], "b": mlp["b2"]} if mlp else d["trace"]
        model = TraceModel(
            f(d["mean"], np.float64),
            f(d["std"], np.float64),
            f(trace["w"], np.float64),
            float(trace["b"]),
            f(d["mmode"]["w"], np.float64),
            float(d["mmode"]["b"]),
            f(mlp["w1"], np.float64) if mlp else None,
            f(mlp["b1"], np.float64) if mlp else None,
        )
        model.logits(np.zeros(len(FEATURES)))  # shapes agree
        return model
    except (OSError, ValueError, KeyError, TypeError) as exc:
        if isinstance(exc, ModeModelError):
            raise
        raise ModeModelError(f"cannot read mode gate model {path}: {exc}") from exc


@dataclass(frozen=True)
class ModeResult:
    """The mode of one frame and the statistics it was decided from."""

    mode: str
    stats: dict[str, float] = field(default_factory=dict)

    @property
    def classified(self) -> bool:
        """True when a view label should be computed for this frame."""
        return self.mode in CLASSIFIED_MODES


class ModeGate:
    """Stateful per-frame mode classifier; call it on every frame of a stream, in order.

    ``gate(image, sector=None) -> ModeResult``; ``sector`` (from :class:`~rtecho.ultrasound.SectorDetector`)
    limits the colour, blank and frozen tests to the imaging region (default: the whole frame).
    """

    def __init__(
        self,
        threshold: float = 2.0,
        blank_fraction: float = 0.02,
        frozen_diff: float = 0.05,
        frozen_frames: int = 3,
        chroma: float = 40.0,
        color_fraction: float = 0.002,
        target: int = 160,
        model: str | Path | None = None,
    ) -> None:
        if frozen_frames < 1:
            raise ValueError("frozen_frames must be >= 1")
        self.threshold, self.blank_fraction = threshold, blank_fraction
        self.frozen_diff, self.frozen_frames = frozen_diff, frozen_frames
        self.chroma, self.color_fraction, self.target = chroma, color_fraction, target
        self.model = load_trace_model(model if model is not None else GATE_MODEL)
        self.reset()

    def reset(self) -> None:
        """Forget the previous frames."""
        self._prev: np.ndarray | None = None
        self._diffs: deque[float] = deque(maxlen=self.frozen_frames)

    def __call__(self, image: np.ndarray | ScreenFrame, sector: Sector | None = None) -> ModeResult:
        """The mode of ``image`` (the next frame of the stream; a :class:`ScreenFrame` as the stage passes it).

        The layout features are computed on :meth:`ScreenFrame.grid`, exactly as the gate model was fitted
        (:func:`~rtecho.ultrasound._mode_features.screen_grid`).
        """
        screen = ScreenFrame.of(image)
        return self.still(screen, sector) or self.layout(screen, sector)

    def region_of(self, screen: ScreenFrame, sector: Sector | None) -> np.ndarray:
        """The sector's mask on the gate's grids of ``screen`` (cached in the sector); the layout one."""
        self._region(screen.check(self.target)[0], sector)
        return self._region(screen.grid(self.target)[0], sector)

    def _region(self, small: np.ndarray, sector: Sector | None) -> np.ndarray:
        hs, ws = small.shape
        region = sector.region((hs, ws)) if sector is not None else np.ones((hs, ws), bool)
        return region if region.any() else np.ones((hs, ws), bool)

    def still(self, screen: ScreenFrame, sector: Sector | None = None) -> ModeResult | None:
        """The first, cheap tests on the next frame of the stream (they keep the frozen-test history):
        ``blank`` or ``frozen``, or None when the frame shows a live image (then :meth:`layout`).
        On the screen's :meth:`~rtecho.ultrasound._screen.ScreenFrame.check` grid: the layout tests'
        grid, or on frames of 6x ``target`` and more a cheaper one of the 4x subsample."""
        small = screen.check(self.target)[0]
        region = self._region(small, sector)
        content = float((small[region] > self.threshold).mean())
        prev, self._prev = self._prev, small
        if prev is not None and prev.shape == small.shape:
            self._diffs.append(float(np.abs(small[region] - prev[region]).mean()))
        else:
            self._diffs.clear()
        stats = {"content": content}
        if content < self.blank_fraction:
            return ModeResult("blank", stats)
        if len(self._diffs) == self.frozen_frames and max(self._diffs) < self.frozen_diff:
            return ModeResult("frozen", stats)
        return None

    def layout(self, screen: ScreenFrame, sector: Sector | None = None) -> ModeResult:
        """The tests of a live image (no state): a trace screen (spectral Doppler, M-mode), colour
        Doppler or B-mode. A stream's stage may run it on a frame in the idle time after it and use it
        for the next frame (:class:`~rtecho.pipeline.ultrasound.ModeStage` on a live stream)."""
        image = screen.image
        small, sub, f = screen.grid(self.target)
        region = self._region(small, sector)
        stats: dict[str, float] = {}
        feats = layout_features(small)
        z_trace, z_mmode = self.model.logits(feats)
        stats["trace_logit"], stats["mmode_logit"] = z_trace, z_mmode
        band_h, band_w = float(feats[_BAND_HEIGHT]), float(feats[_BAND_WIDTH])
        stats["band_height"], stats["band_width"] = band_h, band_w
        # a trace screen by definition has a tall, wide band: the net is not asked outside that
        if z_trace > 0 and band_h >= MIN_BAND_HEIGHT and band_w >= MIN_BAND_WIDTH:
            return ModeResult("mmode" if z_mmode > 0 else "spectral_doppler", stats)
        if image.ndim == 3:
            chroma = screen.grid_gray(self.target) - channel_min(sub)  # uint8: max >= min, no wrap-around
            # more than half of a block coloured: thin coloured lines (outlines, text) do not count
            col = block_mean(chroma > self.chroma, f) > 0.5  # exact integer block sums of the bools
            frac = float(col[region].mean())
            stats["color"] = frac
            if frac > self.color_fraction:
                return ModeResult("color_doppler", stats)
        return ModeResult("bmode", stats)
