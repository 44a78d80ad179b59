"""LV volumes from one apical plane, and the ejection fraction.

Single-plane area-length (the LV taken as a prolate ellipsoid of cavity area ``A`` and long axis ``L``)::

    V = 8 A^2 / (3 pi L)

Monoplane method of discs (modified Simpson's rule, ASE/EACVI chamber quantification): the cavity cut
into ``n`` (20) discs of height ``h = L / n`` perpendicular to the long axis, disc ``i`` of diameter
``d_i`` taken as circular::

    V = (pi / 4) sum_i d_i^2 h

Ejection fraction (percent) ``EF = 100 (EDV - ESV) / EDV``. Units: pixels give px³ volumes (EF is a
ratio, so it needs no calibration); cm give ml.

>>> round(area_length_volume(30.0, 8.0), 1)
95.5
>>> round(ejection_fraction(120.0, 48.0), 1)
60.0
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np


def area_length_volume(area: float, length: float) -> float:
    """``8 A^2 / (3 pi L)``; NaN when the length is not positive."""
    if not (length > 0) or not math.isfinite(area):
        return math.nan
    return 8.0 * area * area / (3.0 * math.pi * length)


def disc_volume(diameters: np.ndarray, length: float) -> float:
    """``(pi / 4) sum d_i^2 (L / n)`` over the ``n`` disc diameters; NaN when the length is not positive."""
    d = np.asarray(diameters, np.float64)
    if not (length > 0) or d.size == 0:
        return math.nan
    return float(math.pi / 4.0 * np.sum(d * d) * length / d.size)


def ejection_fraction(edv: float, esv: float) -> float:
    """``100 (EDV - ESV) / EDV``; NaN when EDV is not positive or a volume is not finite."""
    if not (edv > 0) or not math.isfinite(esv):
        return math.nan
    return 100.0 * (edv - esv) / edv


def mean_ef(values: Iterable[float], last: int = 5) -> float | None:
    """Mean of the last ``last`` finite EF values (EchoNet averages up to five beats); None if there is none."""
    vals = [v for v in values if v is not None and math.isfinite(v)][-int(last) :]
    return float(np.mean(vals)) if vals else None
