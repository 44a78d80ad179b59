"""LV cavity measurements, online beat detection and beat-by-beat ejection fraction (numpy only).

>>> from rtecho.cardiac import BeatTracker, measure_lv, area_length_volume
"""

from __future__ import annotations

from rtecho.cardiac.beats import APICAL_VIEWS, FLAGS, BeatEvent, BeatTracker, TrackerConfig, track_clip
from rtecho.cardiac.ef import area_length_volume, disc_volume, ejection_fraction, mean_ef
from rtecho.cardiac.lv import LVShape, contour, largest_component, measure_lv

__all__ = [
    "APICAL_VIEWS",
    "FLAGS",
    "BeatEvent",
    "BeatTracker",
    "LVShape",
    "TrackerConfig",
    "area_length_volume",
    "contour",
    "disc_volume",
    "ejection_fraction",
    "largest_component",
    "mean_ef",
    "measure_lv",
    "track_clip",
]
