"""The parametric patient and its cardiac cycle.

The LV cavity is a prolate half-ellipsoid cut at the mitral plane: in any plane through its long axis it
is an ellipse of half-width ``a`` and half-length ``b`` truncated at ``v = t b`` beyond its centre, so its
length is ``L = b (1 + t)`` and its area ``A = a b c(t)`` with ``c(t) = pi/2 + t sqrt(1 - t^2) + asin t``.
Volumes follow the single-plane area-length rule ``V = 8 A^2 / (3 pi L)`` (ml from cm), so the EF a test
measures from rendered ED/ES masks is the EF the cycle was built from.

The cycle (phase 0 = end-diastole) has ejection (cosine, ``0 -> ts``), isovolumic relaxation, rapid filling
(E), diastasis and atrial contraction (A); valves open and close with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

TRUNC = 0.3  # LV cut at the mitral plane, as a fraction of the half-length beyond the centre


def area_factor(t: float = TRUNC) -> float:
    """c(t): area of the truncated unit ellipse over a*b."""
    return math.pi / 2 + t * math.sqrt(1 - t * t) + math.asin(t)


def lv_volume_ml(a: float, b: float, t: float = TRUNC) -> float:
    """Area-length volume (ml) of the truncated ellipse with half-width a and half-length b (cm)."""
    area = a * b * area_factor(t)
    length = b * (1 + t)
    return 8 * area * area / (3 * math.pi * length)


def half_width_for(volume_ml: float, b: float, t: float = TRUNC) -> float:
    """Half-width a (cm) that gives ``volume_ml`` at half-length b."""
    c = area_factor(t)
    return math.sqrt(volume_ml * 3 * math.pi * (1 + t) / (8 * b * c * c))


@dataclass(frozen=True)
class Patient:
    """Anatomical sizes (cm) at end-diastole, EF (fraction) and heart rate (beats/min)."""

    lv_a: float
    lv_b: float
    wall: float
    rv_a: float
    rv_len_frac: float
    la_a: float
    la_b: float
    ra_a: float
    ra_b: float
    ao_r: float
    apex_z: float
    ef: float
    long_shortening: float
    heart_rate: float

    @property
    def edv(self) -> float:
        return lv_volume_ml(self.lv_a, self.lv_b)

    @property
    def esv(self) -> float:
        return self.edv * (1 - self.ef)


def random_patient(
    rng: np.random.Generator, ef: float | None = None, heart_rate: float | None = None
) -> Patient:
    """Draw a plausible adult heart; ``ef`` in (0, 1) and ``heart_rate`` (/min) when given are kept."""
    ef = float(rng.uniform(0.25, 0.72)) if ef is None else float(ef)
    hr = float(rng.uniform(50, 110)) if heart_rate is None else float(heart_rate)
    return Patient(
        lv_a=float(rng.uniform(1.9, 2.6)),
        lv_b=float(rng.uniform(5.2, 6.4)),
        wall=float(rng.uniform(0.8, 1.25)),
        rv_a=float(rng.uniform(1.2, 1.7)),
        rv_len_frac=float(rng.uniform(0.7, 0.85)),
        la_a=float(rng.uniform(1.6, 2.2)),
        la_b=float(rng.uniform(1.6, 2.2)),
        ra_a=float(rng.uniform(1.5, 2.0)),
        ra_b=float(rng.uniform(1.6, 2.1)),
        ao_r=float(rng.uniform(1.0, 1.4)),
        apex_z=float(rng.uniform(1.8, 3.0)),
        ef=ef,
        long_shortening=float(np.clip(0.14 * ef / 0.6, 0.02, 0.2)),
        heart_rate=hr,
    )


@dataclass(frozen=True)
class CycleState:
    """The heart at one instant: ``fill`` 1 = end-diastole, 0 = end-systole; valve openings in [0, 1]."""

    phase: float
    fill: float
    lv_a: float
    lv_b: float
    wall: float
    mitral_open: float
    aortic_open: float
    la_scale: float

    @property
    def lv_volume(self) -> float:
        return lv_volume_ml(self.lv_a, self.lv_b)


def systole_fraction(heart_rate: float) -> float:
    """Fraction of the cycle spent in ejection (systole shortens less than diastole as the rate rises)."""
    ts_s = 0.33 - 0.0007 * (heart_rate - 60)
    return float(np.clip(ts_s * heart_rate / 60.0, 0.25, 0.55))


def _smooth(u: float) -> float:
    u = min(max(u, 0.0), 1.0)
    return u * u * (3 - 2 * u)


def fill_fraction(phase: float, ts: float) -> float:
    """Normalised LV volume (1 at ED, 0 at ES) at ``phase`` in [0, 1)."""
    p = phase % 1.0
    if p < ts:
        return 0.5 * (1 + math.cos(math.pi * p / ts))
    u = (p - ts) / (1 - ts)
    if u < 0.08:
        return 0.0
    if u < 0.4:
        return 0.8 * _smooth((u - 0.08) / 0.32)
    if u < 0.75:
        return 0.8 + 0.05 * (u - 0.4) / 0.35
    if u < 0.95:
        return 0.85 + 0.15 * _smooth((u - 0.75) / 0.2)
    return 1.0


def cycle_state(patient: Patient, phase: float) -> CycleState:
    """The heart of ``patient`` at ``phase`` (0 = end-diastole) of its cycle."""
    ts = systole_fraction(patient.heart_rate)
    g = fill_fraction(phase, ts)
    b_es = patient.lv_b * (1 - patient.long_shortening)
    b = b_es + g * (patient.lv_b - b_es)
    vol = patient.esv + g * (patient.edv - patient.esv)
    a = half_width_for(vol, b)
    p = phase % 1.0
    u = (p - ts) / (1 - ts)
    mitral = 0.0
    if 0.08 < u < 0.45:
        mitral = math.sin(math.pi * (u - 0.08) / 0.37) ** 0.5
    elif 0.72 < u < 0.97:
        mitral = 0.7 * math.sin(math.pi * (u - 0.72) / 0.25) ** 0.5
    aortic = math.sin(math.pi * (p - 0.03) / (ts - 0.05)) ** 0.5 if 0.03 < p < ts - 0.02 else 0.0
    wall = patient.wall * (1 + 0.45 * (1 - g) * patient.ef / 0.6)
    return CycleState(
        phase=p,
        fill=g,
        lv_a=a,
        lv_b=b,
        wall=wall,
        mitral_open=float(mitral),
        aortic_open=float(max(aortic, 0.0)),
        la_scale=1 + 0.12 * (1 - g),
    )
