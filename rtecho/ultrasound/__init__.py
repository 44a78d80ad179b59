"""rtecho.ultrasound: the ultrasound algorithms (sector, mode gating, smoothing, calibration, clip results);
their pipeline stages are in :mod:`rtecho.pipeline.ultrasound`."""

from __future__ import annotations

from rtecho.ultrasound.calibration import (
    Calibration,
    expected_calibration_error,
    fit_calibration,
    fit_temperature,
)
from rtecho.ultrasound.clip import ClipResult, Segment, summarize_clip
from rtecho.ultrasound.mode import ModeGate, ModeResult
from rtecho.ultrasound.sector import Sector, SectorDetector, detect_sector
from rtecho.ultrasound.smoothing import Smoothed, TemporalSmoother

__all__ = [
    "Calibration",
    "ClipResult",
    "ModeGate",
    "ModeResult",
    "Sector",
    "SectorDetector",
    "Segment",
    "Smoothed",
    "TemporalSmoother",
    "detect_sector",
    "expected_calibration_error",
    "fit_calibration",
    "fit_temperature",
    "summarize_clip",
]
