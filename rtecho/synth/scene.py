"""Scene description shared by the view layouts: materials, building blocks and the :class:`Scene`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from rtecho.synth.shapes import Capsule, Ellipse, Layer, Placement, Shape

# Diffuse scatterer amplitudes (myocardium = 1). Blood is ~ -32 dB below tissue: dark, not black.
MYO = 1.0
BLOOD = 0.012
FIBROUS = 1.5
FAT = 0.6
LIVER = 0.6
VALVE = 1.3
# Coherent (specular) amplitudes.
PERICARDIUM = 4.0
ENDO = 0.1
LEAFLET = 0.9


@dataclass(frozen=True)
class Scene:
    """Everything a view renders from: layer groups with placements, and ground truth of the LV.

    ``lv`` is the LV cavity (shape, placement) when the view shows it; ``lv_apex``/``lv_base`` are the
    apex and mitral-plane midpoint in sector cm (apical views); ``z_extent`` is the depth (cm) of the
    deepest structure that defines the view.
    """

    groups: list[tuple[list[Layer], Placement]]
    background: float = 0.13
    lv: tuple[Ellipse, Placement] | None = None
    lv_apex: tuple[float, float] | None = None
    lv_base: tuple[float, float] | None = None
    z_extent: float = 14.0
    clutter: float = 1.0
    tags: dict[str, float] = field(default_factory=dict)


def wall(shape: Shape, thick: float, value: float = MYO, aniso: float = 0.6) -> Layer:
    """Myocardium of thickness ``thick`` outside the boundary of ``shape``."""
    return Layer("shell", shape, value, aniso=aniso, lo=-0.05, hi=thick)


def cavity(shape: Shape, value: float = BLOOD, endo: float = ENDO) -> list[Layer]:
    """A blood pool plus the bright endocardial interface where the beam meets it squarely."""
    return [Layer("fill", shape, value), Layer("spec", shape, endo, aniso=1.0, lo=0.05, hi=0.1)]


def tissue(shape: Shape, value: float = MYO, aniso: float = 0.0) -> Layer:
    """A solid region of tissue."""
    return Layer("fill", shape, value, aniso=aniso)


def specular(
    shape: Shape, value: float, width: float = 0.12, aniso: float = 0.85, at: float = 0.0, far: float = 0.0
) -> Layer:
    """A bright coherent line along the boundary (``at`` cm outside it) of ``shape``."""
    return Layer("spec", shape, value, aniso=aniso, lo=at, hi=width, far=far)


def pericardium(shape: Shape, value: float = 1.0) -> Layer:
    """The pericardium: the brightest line, strongest on the far (posterior) side of the heart."""
    return Layer("spec", shape, PERICARDIUM * value, aniso=1.0, lo=0.05, hi=0.16, far=0.95)


def leaflet(x: float, z: float, ang_deg: float, length: float, r: float = 0.07) -> list[Layer]:
    """A valve leaflet hinged at (x, z) pointing at screen angle ``ang_deg`` (90 = towards the probe)."""
    a = math.radians(ang_deg)
    cap = Capsule(x, z, x + length * math.cos(a), z - length * math.sin(a), r)
    return [tissue(cap, VALVE), specular(cap, LEAFLET, width=0.07, aniso=0.5, at=-r)]


def lerp(a: float, b: float, t: float) -> float:
    return a + (b - a) * t
