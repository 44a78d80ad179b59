"""What the beat tracker gives and takes: :class:`BeatEvent` (one beat) and :class:`TrackerConfig`."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

APICAL_VIEWS = frozenset({"A2C", "A3C", "A4C", "A5C"})
FLAGS = ("low_confidence", "foreshortened", "view_change", "mask_jump", "lv_missing")


@dataclass(frozen=True)
class BeatEvent:
    """One beat: ED and ES frame indices and times (s), areas, long axes, volumes by both methods, EF.

    ``ef`` is the method-of-discs EF (the clinical monoplane standard), ``ef_area_length`` the
    area-length one; ``quality`` lists the flags (empty = a good beat); ``emitted_index``/``_time`` the
    frame at which the beat was confirmed (its lag); ``running_ef`` the mean EF of the last good beats.
    """

    ed_index: int
    es_index: int
    ed_time: float
    es_time: float
    eda: float
    esa: float
    ed_length: float
    es_length: float
    edv_area_length: float
    esv_area_length: float
    edv_disc: float
    esv_disc: float
    ef_area_length: float
    ef_disc: float
    heart_rate: float | None
    quality: tuple[str, ...]
    emitted_index: int
    emitted_time: float
    view: str | None = None
    running_ef: float | None = None

    @property
    def ef(self) -> float:
        return self.ef_disc

    @property
    def ok(self) -> bool:
        return not self.quality

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["quality"] = list(self.quality)
        d["ef"] = self.ef
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


@dataclass
class TrackerConfig:
    """Parameters of :class:`BeatTracker` (times in seconds, fractions of the area or long axis).

    The curve's (``smooth_s``, ``smooth_rr``, ``outlier_*``, ``es_plateau_k``, ``extreme_*``,
    ``min_shortening``) were chosen on simulator cines of seed 20261299 through the shipped segmenter
    (``benchmarks/ef_check.py --seed 20261299``), not on the held-out seed; ``smooth_s`` 0.12 -> 0.10
    with ``lvseg_lite`` (its masks wobble less: found 95.6 -> 96.7 %, spurious 10 -> 8 of 479 beats)."""

    min_bpm: float = 30.0
    max_bpm: float = 200.0
    hysteresis: float = 0.3
    floor: float = 0.02
    window_s: float = 2.5
    smooth_s: float = 0.10
    smooth_rr: float = 0.15
    outlier_s: float = 0.06
    outlier_rel: float = 0.15
    es_plateau_k: float = 0.75
    extreme_s: float = 0.1
    extreme_deg: int = 2
    extreme_vertex: bool = True
    min_systole_s: float = 0.1
    max_systole_s: float = 0.8
    min_shortening: float = 0.05
    min_confidence: float = 0.5
    max_area_jump: float = 0.3
    max_centroid_jump: float = 0.2
    max_missing_s: float = 0.3
    max_gap_s: float = 0.5
    last_beats: int = 5
    reset_on_view_change: bool = True
    view_hold_s: float = 0.5
    history: int = 256
