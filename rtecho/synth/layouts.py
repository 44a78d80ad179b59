"""Dispatch from a VIEWS.md label to its layout builder."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rtecho.synth.anatomy import CycleState, Patient
from rtecho.synth.config import check_view
from rtecho.synth.scene import Scene
from rtecho.synth.views_apical import apical, subcostal_4c
from rtecho.synth.views_other import other, subcostal_ivc, suprasternal
from rtecho.synth.views_parasternal import plax, psax, psax_av

Builder = Callable[[Patient, CycleState, np.random.Generator], Scene]

BUILDERS: dict[str, Builder] = {
    "A2C": lambda p, s, r: apical("A2C", p, s, r),
    "A3C": lambda p, s, r: apical("A3C", p, s, r),
    "A4C": lambda p, s, r: apical("A4C", p, s, r),
    "A5C": lambda p, s, r: apical("A5C", p, s, r),
    "PLAX": plax,
    "PSAX-AV": psax_av,
    "PSAX-MV": lambda p, s, r: psax("PSAX-MV", p, s, r),
    "PSAX-PM": lambda p, s, r: psax("PSAX-PM", p, s, r),
    "PSAX-AP": lambda p, s, r: psax("PSAX-AP", p, s, r),
    "SC4C": subcostal_4c,
    "SCIVC": subcostal_ivc,
    "SSN": suprasternal,
    "OTHER": other,
}


def build_scene(view: str, patient: Patient, state: CycleState, layout_seed: int) -> Scene:
    """The scene of ``view`` for ``patient`` at ``state``; equal seeds give the same layout (for cines)."""
    return BUILDERS[check_view(view)](patient, state, np.random.default_rng(layout_seed))
