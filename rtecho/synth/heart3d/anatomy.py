"""The parametric 3-D heart (and its neighbours) in a heart frame, per subject and per cardiac phase.

Heart frame (cm): origin at the endocardial LV apex, ``w`` along the LV long axis towards the base, ``u``
from the LV towards the RV (the 4-chamber plane is ``v = 0``), ``v = w x u`` towards the anterior wall and
the aortic valve. Body axes (X patient left, Y anterior, Z superior) are fixed per subject by a jittered
rotation, so that the liver, IVC, arch and probe windows sit where they sit in a patient.

The LV cavity is the truncated prolate half-ellipsoid of :mod:`rtecho.synth.anatomy` (apex fixed, the base
descends in systole, the same area-length volumes, so EF from LV masks is the EF of the cycle). Walls are
volumes: myocardium = epicardial shell minus cavities (tissue with thickness, never an outline).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from rtecho.synth.anatomy import TRUNC, CycleState, Patient, cycle_state, random_patient
from rtecho.synth.heart3d.geometry import ConeSheet, Ellipsoid, Fins, Torus, Tube, unit

# body directions (X left, Y anterior, Z superior) of the heart axes, before per-subject jitter
_W_BODY = (-0.63, -0.52, 0.58)  # apex -> base: right, posterior, superior
_U_BODY = (-0.45, 0.6, -0.65)  # LV -> RV: right, anterior, inferior (the RV lies on the diaphragm)


def _rot(axis: np.ndarray, ang: float) -> np.ndarray:
    a = unit(axis)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + math.sin(ang) * k + (1 - math.cos(ang)) * (k @ k)


@dataclass(frozen=True)
class Subject:
    """One patient: sizes and EF (``patient``), heart orientation in the body, and shape variation."""

    patient: Patient
    body: np.ndarray  # rows: body X, Y, Z directions in heart coordinates
    av_angle: float  # azimuth (rad, from u towards v) of the aortic valve about the LV axis
    rv_angle: float
    rv_depth: float  # radial size of the RV cavity beyond the septum (cm)
    rv_wrap: float  # tangential half-size of the RV crescent (cm)
    tv_drop: float  # tricuspid annulus this much more apical than the mitral (cm)
    la_shift: np.ndarray
    ra_shift: np.ndarray
    arch_rise: float
    arch_span: float
    liver: np.ndarray  # offset of the liver centre from the crux in body axes (cm)
    pm_w: float  # papillary muscles height as a fraction of the LV length
    rv_wall: float
    seed: int
    apical_window: np.ndarray = field(default_factory=lambda: np.array([0.0, 0.0, -2.0]))  # probe - apex (cm)


def random_subject(
    rng: np.random.Generator, ef: float | None = None, heart_rate: float | None = None
) -> Subject:
    """Draw a subject; ``ef`` (fraction) and ``heart_rate`` (/min) when given are kept."""
    p = random_patient(rng, ef, heart_rate)
    w = unit(_W_BODY)
    jit = _rot(rng.normal(size=3), math.radians(float(rng.uniform(0, 12))))
    w = jit @ w
    u = unit(jit @ np.asarray(_U_BODY))
    u = unit(u - (u @ w) * w)
    v = np.cross(w, u)
    if v[2] < 0:
        v = -v
    m = np.stack([u, v, w])  # rows: heart axes in body coordinates
    body = m.T  # rows: body axes in heart coordinates
    return Subject(
        patient=p,
        body=body,
        av_angle=math.radians(float(rng.uniform(48, 66))),
        rv_angle=math.radians(float(rng.uniform(18, 32))),
        rv_depth=float(rng.uniform(1.6, 2.4)),
        rv_wrap=float(rng.uniform(3.3, 3.9)),
        tv_drop=float(rng.uniform(0.5, 1.0)),
        la_shift=rng.normal(0, 0.25, 3),
        ra_shift=rng.normal(0, 0.25, 3),
        arch_rise=float(rng.uniform(4.0, 5.5)),
        arch_span=float(rng.uniform(3.5, 5.0)),
        liver=np.array([-4.0, 0.0, -14.0]) + rng.normal(0, 0.6, 3),
        pm_w=float(rng.uniform(0.38, 0.5)),
        rv_wall=float(rng.uniform(0.35, 0.55)),
        seed=int(rng.integers(2**62)),
        # the apical window is rarely exactly on the apex: the LV axis tilts in apical images
        apical_window=np.array([*np.clip(rng.normal(0, 0.9, 2), -1.8, 1.8), -float(rng.uniform(1.4, 2.8))]),
    )


@dataclass(frozen=True)
class Heart:
    """The anatomy at one phase: named primitives (heart cm) and landmarks used by the probe poses."""

    prims: dict[str, object]
    marks: dict[str, np.ndarray]
    state: CycleState
    subject: Subject


def _ring_dir(a: float) -> np.ndarray:
    return np.array([math.cos(a), math.sin(a), 0.0])


def heart_at(subj: Subject, phase: float) -> Heart:
    """The anatomy of ``subj`` at ``phase`` (0 = end-diastole)."""
    p = subj.patient
    s = cycle_state(p, phase)
    X, Y, Z = subj.body
    a, b, t = s.lv_a, s.lv_b, s.wall
    wb = b * (1 + TRUNC)  # mitral plane height above the apex
    f = s.fill
    P: dict[str, object] = {}
    M: dict[str, np.ndarray] = {}
    # --- LV: cavity and epicardium (apex fixed, base descends in systole)
    P["lv_cav"] = Ellipsoid(np.array([0.0, 0.0, b]), np.array([a, a, b]), z_hi=TRUNC * b)
    P["lv_epi"] = Ellipsoid(
        np.array([0.0, 0.0, b]), np.array([a + t, a + t, b + 0.75 * t]), z_hi=TRUNC * b + 0.15
    )
    M["apex"] = np.array([0.0, 0.0, 0.0])
    M["apex_epi"] = np.array([0.0, 0.0, -0.75 * t])
    M["base"] = np.array([0.0, 0.0, wb])
    M["lv_mid"] = np.array([0.0, 0.0, 0.5 * wb])
    # --- mitral annulus (posterior-lateral part of the base) and the aortic valve (anterior-septal)
    e_av = _ring_dir(subj.av_angle)
    r_mv = 0.62 * a + 0.25
    mv_c = np.array([0.0, 0.0, wb]) - 0.55 * e_av
    av_c = np.array([0.0, 0.0, wb + 0.25]) + (0.55 * a + 0.2) * e_av
    M["mv"], M["av"] = mv_c, av_c
    ao_r = p.ao_r
    # --- RV: crescent (ellipsoid about the septum, minus the LV epicardium), truncated at the tricuspid plane
    e_rv = _ring_dir(subj.rv_angle)
    e_rt = np.array([-e_rv[1], e_rv[0], 0.0])
    rv_scale = 0.85 + 0.15 * f
    wt = wb - subj.tv_drop
    rv_len = p.rv_len_frac * wb
    rv_b = rv_len / (1 + TRUNC)
    rv_c = (a + t - 0.4) * e_rv + np.array([0.0, 0.0, wt - TRUNC * rv_b])
    semi_rv = np.array([subj.rv_depth * rv_scale + 0.4, subj.rv_wrap, rv_b])
    axes_rv = np.stack([e_rv, e_rt, [0.0, 0.0, 1.0]])
    P["rv_cav"] = Ellipsoid(rv_c, semi_rv, axes_rv, z_hi=TRUNC * rv_b)
    wall = subj.rv_wall
    P["rv_epi"] = Ellipsoid(rv_c, semi_rv + wall, axes_rv, z_hi=TRUNC * rv_b + 0.1)
    tv_c = (a + t + 0.55 * subj.rv_depth) * _ring_dir(subj.rv_angle - 0.35) + np.array([0.0, 0.0, wt])
    M["tv"] = tv_c
    # --- atria above the valve planes (larger in systole)
    ls = s.la_scale
    la_a, la_b = p.la_a * ls, p.la_b * ls * 1.3
    la_c = mv_c + np.array([-0.15, -0.35, 0.62 * la_b]) + subj.la_shift
    P["la_cav"] = Ellipsoid(la_c, np.array([la_a, la_a * 1.05, la_b]), z_lo=wb - la_c[2])
    P["la_epi"] = Ellipsoid(
        la_c, np.array([la_a + 0.25, la_a * 1.05 + 0.25, la_b + 0.25]), z_lo=wb - la_c[2] - 0.3
    )
    ra_s = 1 + 0.6 * (ls - 1)
    ra_a, ra_b = p.ra_a * ra_s, p.ra_b * ra_s * 1.25
    ra_c = tv_c + np.array([0.3 * e_rv[0], 0.3 * e_rv[1] - 0.3, 0.62 * ra_b]) + subj.ra_shift
    P["ra_cav"] = Ellipsoid(ra_c, np.array([ra_a, ra_a * 1.1, ra_b]), z_lo=wt - ra_c[2])
    P["ra_epi"] = Ellipsoid(
        ra_c, np.array([ra_a + 0.22, ra_a * 1.1 + 0.22, ra_b + 0.22]), z_lo=wt - ra_c[2] - 0.3
    )
    M["la"], M["ra"] = la_c, ra_c
    M["crux"] = 0.5 * (mv_c + tv_c)
    # --- valves: mitral and tricuspid leaflets (cone sheets from the annulus into the ventricle)
    down = np.array([0.0, 0.0, -1.0])
    mo = s.mitral_open
    lf_a, lf_p = 0.9 * r_mv + 0.5, 0.6 * r_mv + 0.4

    def tip(ln: float, o: float) -> tuple[float, float]:  # leaflet tip (radius, depth) at opening o
        ang = math.radians(12 + 70 * o)
        return r_mv * (1 - o * 0.15) - ln * math.cos(ang) * (1 - 0.3 * o), ln * math.sin(ang)

    ra_, ha_ = tip(lf_a, mo)
    rp_, hp_ = tip(lf_p, mo)
    P["mv_ant"] = ConeSheet(mv_c, down, r_mv, max(ra_, 0.05), ha_, 0.07, e_av, 0.62)
    P["mv_post"] = ConeSheet(mv_c, down, r_mv, max(rp_, 0.05), hp_, 0.07, -e_av, 0.62)
    r_tv = 1.35
    o_t = mo
    P["tv_leaf"] = ConeSheet(tv_c, down, r_tv, r_tv * (0.15 + 0.7 * o_t), 0.5 + 1.3 * o_t, 0.07)
    P["mv_ring"] = Torus(mv_c, down, r_mv, 0.18)
    P["tv_ring"] = Torus(tv_c, down, r_tv, 0.12)
    P["av_groove"] = Torus(np.array([0.0, 0.0, wb + 0.1]), down, a + t + 0.15, 0.45)
    # --- aortic root, ascending aorta, arch with head-neck vessels, descending aorta behind the LA
    d_root = unit(0.4 * e_av + np.array([0.0, 0.0, 1.0]))
    asc0 = av_c + 3.0 * d_root
    asc1 = asc0 + 2.2 * Z + 0.7 * (-X) + 0.5 * Y
    top = asc1 + 0.4 * subj.arch_rise * Z - 0.4 * subj.arch_span * Y + 0.3 * subj.arch_span * X
    arch2 = top - 0.5 * subj.arch_span * Y + 0.35 * subj.arch_span * X - 0.6 * Z
    post = -Y
    d1 = la_c + (la_a + 1.9) * post + 1.0 * X + 1.2 * Z
    d2 = la_c + (la_a + 1.8) * post + 0.9 * X - 4.0 * Z
    d3 = la_c + (la_a + 1.6) * post + 0.6 * X - 13.0 * Z
    ao_nodes = np.stack([av_c - 1.4 * d_root, av_c, av_c + 1.2 * d_root, asc0, asc1, top, arch2, d1, d2, d3])
    ao_radii = ao_r * np.array([0.85, 0.95, 1.25, 1.05, 1.05, 0.95, 0.9, 0.85, 0.8, 0.75])
    P["aorta"] = Tube(ao_nodes, ao_radii)
    M["root_dir"] = d_root
    M["asc"], M["arch_top"], M["arch2"], M["desc"] = asc1, top, arch2, d2
    heads = []
    for k, frac in enumerate((0.15, 0.5, 0.85)):
        base_pt = top + frac * (arch2 - top) + ao_r * 0.7 * Z
        tip_pt = base_pt + (3.0 + 0.3 * k) * Z + (0.8 - 0.7 * k) * (-X) + 0.3 * Y
        heads.append((base_pt - 0.8 * Z, tip_pt, 0.45 - 0.05 * k))
    for k, (h0, h1, r) in enumerate(heads):
        P[f"neck{k}"] = Tube(np.stack([h0, h1]), np.array([r, r * 0.9]))
    # aortic cusps: Mercedes when closed, pressed to the wall when open
    ao = s.aortic_open
    if ao < 0.3:
        P["av_cusps"] = Fins(av_c - 0.15 * d_root, d_root, Y, ao_r * 0.95, 0.45, 0.06)
    else:
        rr = ao_r * (0.95 - 0.15 * ao)
        P["av_cusps"] = ConeSheet(av_c - 0.1 * d_root, d_root, rr, rr * 0.95, 1.2 * ao + 0.1, 0.06)
    # --- RVOT, pulmonary valve, pulmonary trunk and branches (wrapping anteriorly round the aorta)
    ant_h = unit(Y - (Y @ np.array([0.0, 0.0, 1.0])) * np.array([0.0, 0.0, 1.0]))
    rvot0 = rv_c + 0.4 * semi_rv[0] * e_rv + 0.55 * subj.rv_wrap * e_rt + np.array([0.0, 0.0, 1.0])
    pv = av_c + 1.7 * d_root + (ao_r + 1.1) * unit(0.6 * ant_h + 0.8 * X)
    rvot1 = 0.5 * (rvot0 + pv) + 1.0 * ant_h
    pa_dir = unit(0.55 * Z - 0.85 * Y)
    bif = pv + 3.3 * pa_dir
    rpa = bif + 5.0 * (-X) - 0.6 * Y - 0.5 * Z
    lpa = bif + 3.0 * X - 1.5 * Y - 0.8 * Z
    P["rvot"] = Tube(np.stack([rvot0, rvot1, pv, bif]), np.array([1.2, 1.1, 1.05, 1.0]))
    P["pa_br"] = Tube(np.stack([rpa, bif, lpa]), np.array([0.75, 0.9, 0.7]))
    P["pv_cusps"] = (
        Fins(pv, unit(bif - pv), Z, 1.0, 0.35, 0.06)
        if ao < 0.3
        else ConeSheet(pv, unit(bif - pv), 0.95, 0.9, 1.0 * ao, 0.06)
    )
    M["pv"], M["bif"], M["rpa"] = pv, bif, rpa
    # --- caval veins and hepatic vein, liver below the diaphragm
    ivc_r = 0.8 + 0.25 * (1 - f)
    ivc0 = ra_c - 0.5 * ra_b * Z * 0.2 - 0.6 * ra_b * Z
    ivc1 = ivc0 - 3.0 * Z - 0.4 * Y
    ivc2 = ivc1 - 9.0 * Z - 0.6 * Y
    P["ivc"] = Tube(np.stack([ra_c, ivc0, ivc1, ivc2]), np.array([ivc_r, ivc_r, ivc_r, ivc_r * 0.95]))
    hv0 = ivc1 + 0.6 * Z
    hv1 = hv0 - 2.5 * Z + 3.0 * Y + 2.0 * X
    P["hv"] = Tube(np.stack([hv0, hv1]), np.array([0.45, 0.3]))
    P["svc"] = Tube(np.stack([ra_c, ra_c + 6.0 * Z + 0.3 * Y]), np.array([0.8, 0.75]))
    M["ivc"] = ivc1
    crux = M["crux"]
    body = np.stack([X, Y, Z])
    liv_c = crux + body.T @ subj.liver
    P["liver"] = Ellipsoid(liv_c, np.array([14.0, 10.0, 9.0]), body)
    M["liver"] = liv_c
    # --- papillary muscles (anterolateral and posteromedial) inside the LV
    pm_h = subj.pm_w * wb
    rad_pm = a * 0.62
    P["pm1"] = Ellipsoid(
        np.concatenate([rad_pm * _ring_dir(subj.av_angle + 2.2)[:2], [pm_h]]), np.array([0.5, 0.5, 0.8])
    )
    P["pm2"] = Ellipsoid(
        np.concatenate([rad_pm * _ring_dir(subj.av_angle - 2.0)[:2], [pm_h]]), np.array([0.5, 0.5, 0.8])
    )
    # --- moderator band in the RV near its apex
    mb0 = np.array([0.0, 0.0, 0.35 * wb]) + (a + t) * e_rv
    P["mod_band"] = Tube(
        np.stack([mb0, mb0 + 1.3 * subj.rv_depth * e_rv + np.array([0, 0, 0.4])]), np.array([0.2, 0.2])
    )
    # pericardial envelope centre/size (for the bright posterior pericardium)
    M["heart_c"] = np.array([0.5 * a, 0.0, 0.6 * wb])
    return Heart(P, M, s, subj)


def lv_volume_ml(heart: Heart) -> float:
    """The LV cavity volume (ml) of ``heart`` by the area-length rule of the 2-D simulator."""
    return heart.state.lv_volume
