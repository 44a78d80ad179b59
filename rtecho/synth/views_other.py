"""Subcostal IVC, suprasternal notch and OTHER (off-axis, searching, non-cardiac, blank) layouts."""

from __future__ import annotations

import math

import numpy as np

from rtecho.synth.anatomy import CycleState, Patient
from rtecho.synth.scene import (
    BLOOD,
    FAT,
    FIBROUS,
    LIVER,
    MYO,
    PERICARDIUM,
    Scene,
    cavity,
    pericardium,
    specular,
    tissue,
    wall,
)
from rtecho.synth.shapes import Arc, Capsule, Ellipse, Layer, Placement


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _liver(rng: np.random.Generator, cx: float, cz: float, a: float, b: float, vessels: int) -> list[Layer]:
    liver = Ellipse(cx, cz, a, b, _u(rng, -0.3, 0.3))
    out = [tissue(liver, LIVER), specular(liver, 2.0, width=0.15, aniso=0.8)]
    for _ in range(vessels):
        v = Ellipse(
            cx + _u(rng, -0.6, 0.6) * a, cz + _u(rng, -0.5, 0.5) * b, _u(rng, 0.15, 0.5), _u(rng, 0.15, 0.4)
        )
        out += [tissue(v, BLOOD), specular(v, 0.9, width=0.08)]
    return out


def subcostal_ivc(p: Patient, s: CycleState, rng: np.random.Generator) -> Scene:
    """SCIVC: liver filling the near field, the IVC as a long tube entering the RA, a hepatic vein joining it."""
    zi = _u(rng, 7.0, 10.0)
    r_ivc = _u(rng, 0.7, 1.1) * (0.85 + 0.15 * s.fill)
    x0, x1 = _u(rng, -7, -5), _u(rng, 1.5, 2.5)
    tilt = _u(rng, -1.2, 1.2)
    ivc = Capsule(x0, zi - tilt, x1, zi + tilt * 0.3, r_ivc)
    ra = Ellipse(x1 + p.ra_a * 0.9, zi + tilt * 0.3 + 0.3, p.ra_a, p.ra_b * 0.9)
    hv_x = _u(rng, -3.0, -0.5)
    hv = Capsule(hv_x - _u(rng, 1, 3), zi - _u(rng, 3, 4.5), hv_x, zi - tilt * 0.2, _u(rng, 0.3, 0.5))
    layers = _liver(rng, -1.5, zi - 1.0, 9.5, zi + 0.5, int(rng.integers(1, 4)))
    diaphragm = Arc(x1 + 1.5, zi + 6.0, 6.0, 40, 150, 0.12)
    heart_env = Ellipse(ra.cx + 1.2, ra.cz + 0.5, p.ra_a + 2.5, p.ra_b + 2.0)
    layers += [
        tissue(heart_env, FAT * 0.9),
        pericardium(heart_env, 0.6),
        tissue(diaphragm, 1.4),
        wall(ra, 0.35, aniso=0.7),
        *cavity(ra),
        wall(ivc, 0.15, value=FIBROUS),
        wall(hv, 0.1, value=FIBROUS),
        *cavity(ivc, endo=0.9),
        *cavity(hv, endo=0.6),
    ]
    return Scene(groups=[(layers, Placement())], z_extent=zi + 5.0, clutter=0.6)


def suprasternal(p: Patient, s: CycleState, rng: np.random.Generator) -> Scene:
    """SSN: the aortic arch as an arc with head-and-neck vessels rising from it, the RPA below."""
    cz = _u(rng, 7.5, 9.5)
    rad = _u(rng, 2.6, 3.4)
    half = p.ao_r * _u(rng, 0.8, 1.0)
    arch = Arc(0.0, cz, rad, _u(rng, 150, 185), _u(rng, -5, 30), half)
    desc_a = math.radians(arch.a0_deg if arch.a0_deg < arch.a1_deg else arch.a1_deg)
    dx, dz = rad * math.cos(desc_a), cz - rad * math.sin(desc_a)
    desc = Capsule(dx, dz, dx + _u(rng, -0.3, 0.6), dz + _u(rng, 3.0, 5.0), half * 0.9)
    rpa = Ellipse(_u(rng, -0.5, 0.5), cz + _u(rng, 0.0, 0.8), _u(rng, 0.8, 1.1), _u(rng, 0.7, 0.9))
    layers: list[Layer] = [tissue(Ellipse(0.0, cz, rad + 2.0, rad + 1.5), FAT * 0.8)]
    for ang in (_u(rng, 118, 128), _u(rng, 95, 105), _u(rng, 70, 82)):
        a = math.radians(ang)
        x0, z0 = (rad + half) * math.cos(a), cz - (rad + half) * math.sin(a)
        ln = _u(rng, 1.8, 3.5)
        vessel = Capsule(x0, z0 + 0.3, x0 + 0.3 * math.cos(a), z0 - ln, _u(rng, 0.25, 0.4))
        layers += [wall(vessel, 0.12, value=FIBROUS), *cavity(vessel, endo=0.6)]
    layers += [
        wall(rpa, 0.2, value=FIBROUS),
        *cavity(rpa),
        wall(arch, 0.25, value=FIBROUS, aniso=0.6),
        wall(desc, 0.25, value=FIBROUS, aniso=0.6),
        *cavity(arch, endo=0.8),
        *cavity(desc, endo=0.8),
    ]
    if rng.random() < 0.5:  # LA glimpsed deep below
        la = Ellipse(_u(rng, -0.5, 1.0), cz + rad + 2.0, p.la_a, p.la_b * 0.7)
        layers += [wall(la, 0.3), *cavity(la)]
    return Scene(groups=[(layers, Placement())], z_extent=cz + 4.0, clutter=1.2)


def other(p: Patient, s: CycleState, rng: np.random.Generator) -> Scene:
    """OTHER: an off-axis/searching cut, a non-cardiac organ, lung, or an almost blank fan."""
    kind = int(rng.integers(0, 5))
    layers: list[Layer] = []
    if kind == 0:  # off-axis cut through the heart: random chambers, no view-defining arrangement
        for _ in range(int(rng.integers(1, 4))):
            ch = Ellipse(
                _u(rng, -4, 4), _u(rng, 4, 12), _u(rng, 0.6, 2.5), _u(rng, 0.6, 3.0), _u(rng, 0, math.pi)
            )
            layers += [wall(ch, _u(rng, 0.4, 1.2), aniso=0.6), *cavity(ch)]
        return Scene(
            groups=[(layers, Placement())], background=_u(rng, 0.3, 0.8), z_extent=14.0, tags={"kind": 0}
        )
    if kind == 1:  # abdomen: liver with vessels, maybe a kidney
        layers = _liver(
            rng, _u(rng, -2, 2), _u(rng, 5, 8), _u(rng, 6, 10), _u(rng, 4, 7), int(rng.integers(2, 7))
        )
        if rng.random() < 0.6:
            k = Ellipse(
                _u(rng, -3, 3), _u(rng, 9, 12), _u(rng, 2.0, 3.0), _u(rng, 1.0, 1.6), _u(rng, -0.5, 0.5)
            )
            layers += [
                tissue(k, 0.35),
                specular(k, 2.0, width=0.15),
                tissue(Ellipse(k.cx, k.cz, k.a * 0.5, k.b * 0.4, k.rot), 1.6),
            ]
        return Scene(
            groups=[(layers, Placement())], background=0.5, z_extent=15.0, clutter=0.5, tags={"kind": 1}
        )
    if kind == 2:  # lung: bright pleural line, A-line reverberations, dark air shadow
        zp = _u(rng, 1.5, 3.0)
        for i in range(1, 5):
            arc = Arc(0.0, 0.0, zp * i, 30, 150, 0.1)
            layers.append(specular(arc, PERICARDIUM * 0.8 / i, width=0.15, aniso=0.2))
        return Scene(
            groups=[(layers, Placement())],
            background=_u(rng, 0.03, 0.15),
            z_extent=14.0,
            clutter=1.5,
            tags={"kind": 2},
        )
    if kind == 3:  # nearly blank: gain down, probe in air or off the body
        return Scene(
            groups=[], background=_u(rng, 0.0, 0.05), z_extent=14.0, clutter=_u(rng, 0, 2.0), tags={"kind": 3}
        )
    # foreshortened / searching: a tilted round-ish ventricle without atria or valves
    tilt = _u(rng, 0.5, 1.2) * (1 if rng.random() < 0.5 else -1)
    lv = Ellipse(_u(rng, -2, 2), _u(rng, 6, 10), _u(rng, 1.0, 1.8), _u(rng, 2.5, 4.0), tilt)
    layers = [wall(lv, _u(rng, 0.8, 1.6), value=MYO, aniso=0.6), *cavity(lv)]
    if rng.random() < 0.5:
        blob = Ellipse(_u(rng, -5, 5), _u(rng, 8, 14), _u(rng, 1, 3), _u(rng, 1, 3))
        layers += [tissue(blob, _u(rng, 0.05, 1.5))]
    return Scene(
        groups=[(layers, Placement())], background=_u(rng, 0.3, 0.7), z_extent=14.0, tags={"kind": 4}
    )
