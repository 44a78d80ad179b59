"""Apical views (A2C, A3C, A4C, A5C) and the subcostal 4-chamber view, in sector cm (apex of the LV at top).

Local frame: x to image right, z down (depth). In A4C the septum runs along x = 0, the LV lies on the image
right, the RV on the left, the atria below the valve planes; the tricuspid annulus sits more apically
than the mitral annulus.
"""

from __future__ import annotations

import math

import numpy as np

from rtecho.synth.anatomy import TRUNC, CycleState, Patient
from rtecho.synth.scene import (
    BLOOD,
    FAT,
    FIBROUS,
    LIVER,
    MYO,
    Scene,
    cavity,
    leaflet,
    lerp,
    pericardium,
    specular,
    tissue,
    wall,
)
from rtecho.synth.shapes import Capsule, Ellipse, Layer, Placement


def _lv(p: Patient, s: CycleState, cx_ed: float, septal_fixed: bool) -> tuple[Ellipse, float, float]:
    """LV cavity (apex fixed at p.apex_z), its centre x and mitral plane depth."""
    cx = cx_ed - 0.5 * (p.lv_a - s.lv_a) if septal_fixed else cx_ed
    ell = Ellipse(cx, p.apex_z + s.lv_b, s.lv_a, s.lv_b, 0.0, TRUNC)
    return ell, cx, p.apex_z + s.lv_b * (1 + TRUNC)


def apical(view: str, p: Patient, s: CycleState, rng: np.random.Generator) -> Scene:
    """A2C / A3C / A4C / A5C layout (``rng`` draws layout details only, so that cines stay stable)."""
    sept = float(rng.uniform(0.4, 0.55))
    four = view in ("A4C", "A5C")
    cx_ed = sept + p.lv_a if four else 0.0
    lv, cx, zb = _lv(p, s, cx_ed, four)
    hw = s.lv_a * math.sqrt(1 - TRUNC * TRUNC)
    walls: list[Layer] = [wall(lv, s.wall, aniso=0.65)]
    pools: list[Layer] = []
    late: list[Layer] = []
    bottom = zb
    open_m = s.mitral_open
    lo = cx - hw - 0.6 if four else cx - hw - 1.5
    hi = cx + hw + 1.5
    if four:
        rv_a = p.rv_a * (0.85 + 0.15 * s.fill)
        z_tv = zb - float(rng.uniform(0.5, 0.9))
        rv_b = p.rv_len_frac * p.lv_b * (1 + TRUNC) / (1 + TRUNC)
        rv = Ellipse(-sept - rv_a, z_tv - TRUNC * rv_b, rv_a, rv_b, float(rng.uniform(-0.12, 0.0)), TRUNC)
        walls.append(wall(rv, 0.45, aniso=0.6))
        pools += cavity(rv)
        rv_hw = rv_a * math.sqrt(1 - TRUNC * TRUNC)
        la_shift = 0.9 if view == "A5C" else 0.0
        la = Ellipse(cx + 0.15 + la_shift, zb + 0.45 + p.la_b * s.la_scale, p.la_a, p.la_b * s.la_scale)
        ra = Ellipse(-sept - p.ra_a - 0.2 - 0.6 * la_shift, z_tv + 0.4 + p.ra_b, p.ra_a, p.ra_b)
        walls += [wall(la, 0.3, aniso=0.8), wall(ra, 0.3, aniso=0.8)]
        pools += cavity(la) + cavity(ra)
        # moderator band across the RV near its apex
        zmb = rv.cz - 0.35 * rv_b
        late.append(tissue(Capsule(rv.cx - rv_a * 0.8, zmb, rv.cx + rv_a * 0.9, zmb - 0.3, 0.17), MYO))
        # tricuspid leaflets (open with the mitral valve)
        for hx, sgn in ((rv.cx - rv_hw, 1), (rv.cx + rv_hw, -1)):
            ang = lerp(-15 if sgn > 0 else 195, 80 if sgn > 0 else 100, open_m)
            late += leaflet(hx, z_tv, ang, rv_hw * (0.8 if sgn > 0 else 0.7))
        late.append(tissue(Ellipse(-sept * 0.5, zb - 0.3, 0.45, 0.35), FIBROUS))  # crux
        late.append(specular(Ellipse(-sept * 0.5, zb - 0.3, 0.45, 0.35), 1.2, aniso=0.3))
        bottom = max(la.cz + la.b, ra.cz + ra.b)
        lo = rv.cx - rv_a - 0.5
        if view == "A5C":
            ao = Capsule(cx - 0.35 * s.lv_a, zb - 0.9, -0.1, zb + 4.2, p.ao_r * 0.9)
            late_ao = [wall(ao, 0.25, value=FIBROUS, aniso=0.5), *cavity(ao)]
            zv = zb + 0.3
            ang_o = s.aortic_open
            late_ao += leaflet(cx - 0.35 * s.lv_a - p.ao_r * 0.85, zv, lerp(-20, -80, ang_o), 0.8)
            late_ao += leaflet(cx - 0.35 * s.lv_a + p.ao_r * 0.85, zv, lerp(200, 260, ang_o), 0.8)
            pools += late_ao
            bottom = max(bottom, zb + 4.2)
    elif view == "A3C":
        la = Ellipse(cx - 0.9, zb + 0.45 + p.la_b * s.la_scale, p.la_a, p.la_b * s.la_scale)
        walls.append(wall(la, 0.3, aniso=0.8))
        pools += cavity(la)
        ao = Capsule(cx + 0.45 * hw, zb - 1.0, cx + hw + 2.6, zb + 3.3, p.ao_r)
        pools += [wall(ao, 0.28, value=FIBROUS, aniso=0.5), *cavity(ao)]
        ux, uz = (hw + 2.6 - 0.45 * hw) / 5.4, 4.3 / 5.4
        nrm = (uz, -ux)
        bx, bz = cx + 0.45 * hw + 1.2 * ux, zb - 1.0 + 1.9 * uz
        for sgn in (1, -1):
            hx, hz = bx + sgn * nrm[0] * p.ao_r * 0.9, bz + sgn * nrm[1] * p.ao_r * 0.9
            axis_ang = math.degrees(math.atan2(-uz, ux))
            closed = axis_ang + (-90 if sgn > 0 else 90) + 180
            late += leaflet(hx, hz, lerp(closed, axis_ang, s.aortic_open), p.ao_r * 0.9)
        bottom = max(la.cz + la.b, zb + 3.3)
        hi = cx + hw + 3.5
    else:  # A2C
        la = Ellipse(
            cx + float(rng.uniform(-0.3, 0.3)), zb + 0.45 + p.la_b * s.la_scale, p.la_a, p.la_b * s.la_scale
        )
        walls.append(wall(la, 0.3, aniso=0.8))
        pools += cavity(la)
        cs = Ellipse(cx - hw - 0.5, zb + 0.7, 0.35, 0.3)
        late += [wall(cs, 0.15, value=FIBROUS), *cavity(cs)]
        bottom = la.cz + la.b
    pools += cavity(lv)
    # mitral leaflets: closed they meet in the middle, bowing towards the LA; open they point at the apex
    ant = 0.55 * hw * 1.9
    post = 0.45 * hw * 1.9
    late += leaflet(cx - hw, zb, lerp(-12, 75, open_m), ant if four else post)
    late += leaflet(cx + hw, zb, lerp(192, 105, open_m), post if four else ant)
    # heart envelope: epicardial fat / AV groove, bright pericardium around it
    mid_x, top = 0.5 * (lo + hi), p.apex_z - s.wall - 0.2
    env = Ellipse(mid_x, 0.5 * (top + bottom + 0.5), 0.5 * (hi - lo) + 0.1, 0.5 * (bottom + 0.5 - top))
    layers = [
        tissue(Ellipse(mid_x, zb, 0.5 * (hi - lo), 1.2), FAT),
        pericardium(env),
        *walls,
        *pools,
        *late,
    ]
    apex = (cx, p.apex_z)
    base = (cx, zb)
    # the probe sits over the LV apex: bring it to the sector's centre line, base swung to the right
    tilt = math.radians(float(rng.uniform(4, 16)) * (1 if four else 0.5))
    place = Placement(rot=-tilt, tx=-cx_ed + float(rng.uniform(-0.4, 0.5)), pivot_x=cx_ed, pivot_z=p.apex_z)
    return Scene(
        groups=[(layers, place)],
        lv=(lv, place),
        lv_apex=apex,
        lv_base=base,
        z_extent=bottom + 0.6,
        clutter=1.0,
        tags={"lv_cx": cx},
    )


def subcostal_4c(p: Patient, s: CycleState, rng: np.random.Generator) -> Scene:
    """SC4C: liver in the near field, the four chambers seen from below with the apex to the right."""
    heart = apical("A4C", p, s, rng)
    layers, _ = heart.groups[0]
    rot = math.radians(90 - float(rng.uniform(20, 40)))
    cz = float(rng.uniform(9.0, 10.5))
    pivot = (0.0, p.apex_z + p.lv_b)
    place = Placement(
        rot=rot, tx=float(rng.uniform(-1.0, 1.0)), tz=cz - pivot[1], pivot_x=pivot[0], pivot_z=pivot[1]
    )
    liver = Ellipse(
        float(rng.uniform(-4, 0)),
        float(rng.uniform(1.0, 2.5)),
        float(rng.uniform(7, 10)),
        float(rng.uniform(4.0, 5.5)),
        float(rng.uniform(-0.4, 0.1)),
    )
    liver_layers: list[Layer] = [tissue(liver, LIVER), specular(liver, 2.5, width=0.15, aniso=0.7)]
    for _ in range(int(rng.integers(1, 4))):
        v = Ellipse(
            float(rng.uniform(-5, 2)),
            float(rng.uniform(1.5, 5)),
            float(rng.uniform(0.2, 0.5)),
            float(rng.uniform(0.2, 0.4)),
        )
        liver_layers += [tissue(v, BLOOD), specular(v, 1.0, width=0.08)]
    lv, _ = heart.lv  # type: ignore[misc]
    return Scene(
        groups=[(liver_layers, Placement()), (layers, place)],
        lv=(lv, place),
        z_extent=cz + 6.0,
        clutter=0.6,
    )
