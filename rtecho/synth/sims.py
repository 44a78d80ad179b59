"""The simulators a dataset can be drawn from: ``v1`` (per-view 2-D layouts) and ``v2`` (3-D heart, probe poses).

Both expose ``render_view(view, rng, size_hw, config) -> HxW uint8``.

>>> still_renderer("v2").__module__
'rtecho.synth.heart3d.render'
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rtecho.synth.config import SynthError

SIMS: tuple[str, ...] = ("v1", "v2")

Renderer = Callable[..., np.ndarray]


def check_sim(sim: str) -> str:
    if sim not in SIMS:
        raise SynthError(f"unknown simulator {sim!r}; known: {', '.join(SIMS)}")
    return sim


def still_renderer(sim: str = "v1") -> Renderer:
    """The ``render_view`` function of simulator ``sim``."""
    if check_sim(sim) == "v2":
        from rtecho.synth.heart3d.render import render_view
    else:
        from rtecho.synth.render import render_view
    return render_view
