"""Parasternal views: PLAX and the four PSAX levels, in sector cm (x to image right, z down)."""

from __future__ import annotations

import math

import numpy as np

from rtecho.synth.anatomy import TRUNC, CycleState, Patient
from rtecho.synth.scene import (
    FAT,
    FIBROUS,
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
from rtecho.synth.shapes import Arc, Capsule, Ellipse, Layer, Placement


def plax(p: Patient, s: CycleState, rng: np.random.Generator) -> Scene:
    """PLAX: RV free wall near field, septum, LV, posterior wall + pericardium; aorta and LA on the right."""
    rv_top = float(rng.uniform(2.2, 3.2))
    rv_h = float(rng.uniform(0.8, 1.2)) * (0.9 + 0.1 * s.fill)
    rv = Ellipse(-0.5, rv_top + rv_h, float(rng.uniform(4.5, 5.5)), rv_h, float(rng.uniform(-0.05, 0.05)))
    sept = p.wall * s.wall / p.wall
    a = s.lv_a * 1.05  # half-height of the LV cavity in this plane
    b = s.lv_b * 0.85
    lv_cz = rv.cz + rv_h + sept + a
    base_x = 1.2
    lv = Ellipse(base_x - TRUNC * b, lv_cz, a, b, -math.pi / 2, TRUNC)
    ao_r = p.ao_r
    z_ao = lv_cz - a - 0.05 + ao_r
    ao = Capsule(base_x - 0.4, z_ao, 8.0, z_ao - float(rng.uniform(0.0, 0.8)), ao_r)
    la_b = p.la_b * 0.9 * s.la_scale
    la = Ellipse(base_x + 2.6, z_ao + ao_r + 0.35 + la_b, p.la_a * 1.1, la_b)
    post_z = lv_cz + a
    dao = Ellipse(base_x + 0.8, max(post_z + s.wall + 0.9, la.cz + la.b - 0.3), 0.75, 0.7)
    env = Ellipse(
        base_x - 1.0, 0.5 * (rv_top + post_z + s.wall), 8.5, 0.5 * (post_z + s.wall - rv_top) + 0.15
    )
    env_la = Ellipse(la.cx, la.cz, la.a + 0.35, la.b + 0.35)
    layers: list[Layer] = [
        tissue(env, FAT),
        pericardium(env),
        tissue(env_la, FAT),
        pericardium(env_la, 0.7),
        wall(rv, 0.5, aniso=0.7),
        wall(lv, s.wall, aniso=0.7),
        wall(la, 0.3, aniso=0.7),
        wall(dao, 0.2, value=FIBROUS),
        *cavity(rv),
        *cavity(la),
        *cavity(dao),
        wall(ao, 0.28, value=FIBROUS, aniso=0.7),
        *cavity(ao),
        *cavity(lv),
    ]
    # mitral: anterior leaflet from the posterior aortic root, posterior leaflet from the posterior wall
    m = s.mitral_open
    layers += leaflet(base_x, z_ao + ao_r + 0.15, lerp(-70, 185, m), 2.0)
    layers += leaflet(base_x + 0.3, post_z - 0.1, lerp(80, 175, m), 1.3)
    # aortic cusps: closed they meet on the axis, open they lie along the walls
    o = s.aortic_open
    layers += leaflet(base_x + 0.6, z_ao - ao_r + 0.1, lerp(-60, -5, o), ao_r * 0.95)
    layers += leaflet(base_x + 0.6, z_ao + ao_r - 0.1, lerp(60, 5, o), ao_r * 0.95)
    return Scene(
        groups=[(layers, Placement())],
        lv=(lv, Placement()),
        z_extent=max(post_z + s.wall + 1.5, la.cz + la.b + 0.5),
        clutter=1.0,
    )


def psax(view: str, p: Patient, s: CycleState, rng: np.random.Generator) -> Scene:
    """PSAX at the mitral, papillary or apical level: round LV, RV crescent upper left."""
    scale = s.lv_a / p.lv_a
    level = {"PSAX-MV": 1.0, "PSAX-PM": 0.85, "PSAX-AP": 0.5}[view]
    r = p.lv_a * 1.15 * level * (scale if view != "PSAX-AP" else 0.5 + 0.5 * scale)
    w = s.wall * (1.0 if view != "PSAX-AP" else 1.25)
    cz = float(rng.uniform(6.5, 8.5))
    lv = Ellipse(0.0, cz, r * float(rng.uniform(0.95, 1.08)), r)
    outer = r + w
    layers: list[Layer] = []
    env = Ellipse(-0.4, cz - 0.2, outer + 0.9 + (1.2 if view != "PSAX-AP" else 0.3), outer + 0.5)
    layers += [tissue(env, FAT), pericardium(env)]
    if view != "PSAX-AP" or rng.random() < 0.5:
        k = 1.0 if view != "PSAX-AP" else 0.5
        rv = Arc(0.0, cz, outer + 0.75 * k, 100, 215, 0.75 * k * (0.9 + 0.1 * s.fill))
        layers += [wall(rv, 0.45, aniso=0.6), *cavity(rv)]
    layers.append(tissue(Ellipse(0.0, cz, outer, outer), MYO, aniso=0.55))
    layers += cavity(lv)
    if view == "PSAX-MV":  # fish-mouth orifice: two leaflet arcs that part in diastole
        gap = 0.1 + 0.9 * s.mitral_open
        for sgn in (1, -1):
            arc = Arc(
                0.0, cz + sgn * (0.2 - 0.7 * gap) * r * 0.5, r * 0.75, 90 * sgn - 55, 90 * sgn + 55, 0.07
            )
            layers += [tissue(arc, 1.6), specular(arc, 1.4, width=0.1, aniso=0.4)]
    elif view == "PSAX-PM":
        for ang in (float(rng.uniform(-40, -15)), float(rng.uniform(195, 225))):
            px = 0.0 + (r - 0.45) * math.cos(math.radians(ang))
            pz = cz - (r - 0.45) * math.sin(math.radians(ang))
            pm = Ellipse(px, pz, 0.5 * (1.2 - 0.2 * s.fill), 0.45)
            layers += [tissue(pm, MYO * 1.1, aniso=0.3), specular(pm, 0.5, width=0.08)]
    return Scene(groups=[(layers, Placement())], lv=(lv, Placement()), z_extent=cz + outer + 1.5, clutter=1.0)


def psax_av(p: Patient, s: CycleState, rng: np.random.Generator) -> Scene:
    """PSAX-AV: Mercedes-sign aortic valve centred, LA below, RA left, RVOT arching over to the PA."""
    cz = float(rng.uniform(7.0, 8.5))
    ao_r = p.ao_r * 1.05
    ao = Ellipse(0.0, cz, ao_r, ao_r)
    la = Ellipse(0.4, cz + ao_r + 0.4 + p.la_b * 0.75, p.la_a * 1.15, p.la_b * 0.75 * s.la_scale)
    ra = Ellipse(-ao_r - 0.4 - p.ra_a * 0.8, cz + 0.9, p.ra_a * 0.85, p.ra_b * 0.9, 0.3)
    rvot = Arc(0.0, cz, ao_r + 1.25, 10, 175, 0.7)
    pa_x = (ao_r + 1.25) * math.cos(math.radians(10))
    pa_z = cz - (ao_r + 1.25) * math.sin(math.radians(10))
    pa = Capsule(pa_x, pa_z, pa_x + 0.6, pa_z + float(rng.uniform(2.5, 3.5)), 0.75)
    env = Ellipse(0.0, cz + 0.6, ao_r + 3.4, ao_r + 2.6 + p.la_b * 0.5)
    layers: list[Layer] = [
        tissue(env, FAT),
        pericardium(env, 0.8),
        wall(rvot, 0.5, aniso=0.6),
        wall(pa, 0.25, value=FIBROUS),
        wall(la, 0.3, aniso=0.8),
        wall(ra, 0.3, aniso=0.8),
        *cavity(la),
        *cavity(ra),
        *cavity(rvot),
        *cavity(pa),
        wall(ao, 0.3, value=FIBROUS, aniso=0.5),
        *cavity(ao),
    ]
    # Mercedes sign: three cusps meeting in the centre (closed) or retracted to a triangle (open)
    o = s.aortic_open
    for ang in (90.0, 210.0, 330.0):
        rad = math.radians(ang)
        ln = ao_r * lerp(0.95, 0.35, o)
        hx, hz = ao_r * math.cos(rad), cz - ao_r * math.sin(rad)
        layers += leaflet(hx, hz, ang + 180 + 25 * o, ln, r=0.06)
    layers += leaflet(pa_x - 0.75, pa_z + 0.3, lerp(0, 80, o), 0.7, r=0.05)  # pulmonary valve
    return Scene(groups=[(layers, Placement())], z_extent=la.cz + la.b + 1.0, clutter=1.0)
