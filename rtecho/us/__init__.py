"""rtecho.us: ultrasound-aware stream stages (sector, mode gating, smoothing, calibration, clip results)."""

from __future__ import annotations

from rtecho.us.calibration import Calibration, expected_calibration_error, fit_calibration, fit_temperature
from rtecho.us.clip import ClipResult, Segment, summarize_clip
from rtecho.us.mode import ModeGate, ModeResult
from rtecho.us.sector import Sector, SectorDetector, detect_sector
from rtecho.us.smoothing import Smoothed, TemporalSmoother
from rtecho.us.stage import UltrasoundPostprocessor, UltrasoundPreprocessor

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
