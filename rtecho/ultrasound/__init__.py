"""rtecho.ultrasound: ultrasound-aware stream stages (sector, mode gating, smoothing, calibration, clip results)."""

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
from rtecho.ultrasound.stage import UltrasoundPostprocessor, UltrasoundPreprocessor

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
    "UltrasoundPostprocessor",
    "UltrasoundPreprocessor",
    "detect_sector",
    "expected_calibration_error",
    "fit_calibration",
    "fit_temperature",
    "summarize_clip",
]
