"""rtecho.synth: an echocardiography phantom simulator (labelled views, cine loops, LV masks and EF).

>>> import numpy as np
>>> from rtecho.synth import render_view
>>> render_view("PLAX", np.random.default_rng(0), size_hw=(64, 64)).shape
(64, 64)
"""

from __future__ import annotations

from rtecho.synth.cine import Cine, render_cine
from rtecho.synth.config import SynthConfig, SynthError
from rtecho.synth.export import generate_dataset
from rtecho.synth.physics import BeamStages, FanGeometry
from rtecho.synth.render import render_stages, render_view
from rtecho.synth.screen import Screen, ScreenTruth, render_screen

__all__ = [
    "BeamStages",
    "Cine",
    "FanGeometry",
    "Screen",
    "ScreenTruth",
    "SynthConfig",
    "SynthError",
    "generate_dataset",
    "render_cine",
    "render_screen",
    "render_stages",
    "render_view",
]
