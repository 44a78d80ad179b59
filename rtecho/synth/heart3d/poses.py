"""Probe poses: each VIEWS.md view is a probe position and plane orientation relative to the anatomy.

A :class:`Pose` is the probe position ``origin`` (heart cm), the unit depth direction ``dep`` (central
beam) and the unit lateral direction ``lat`` (image right); the plane normal is ``lat x dep``. Nominal
poses come from landmarks of the subject's heart at end-diastole, so they follow its shape. A pose is
labelled with the nearest nominal pose when :func:`pose_distance` is below 1, else OTHER: sweeping the probe
from one view to another passes through OTHER, as real operators' searching frames do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rtecho.synth.heart3d.geometry import unit
from rtecho.views import VIEWS

STANDARD = tuple(v for v in VIEWS if v != "OTHER")
SIGMA_TARGET_CM = 1.2
SIGMA_ORIGIN_CM = 4.0
SIGMA_DEP_DEG = 22.0
SIGMA_NORMAL_DEG = 20.0


@dataclass(frozen=True)
class Pose:
    """Probe position (cm), central beam direction and image-right direction (unit, orthogonal)."""

    origin: np.ndarray
    dep: np.ndarray
    lat: np.ndarray
    reach: float = 8.0  # depth (cm) of the point of interest along the central beam
    extent: float = 15.0  # depth (cm) that holds the structures of the view

    @property
    def normal(self) -> np.ndarray:
        (a, b, c), (d, e, f) = self.lat, self.dep
        return np.array([b * f - c * e, c * d - a * f, a * e - b * d])

    @property
    def target(self) -> np.ndarray:
        return self.origin + self.reach * self.dep


def make_pose(target, dep, lat_hint, standoff: float, extent: float) -> Pose:
    dep = unit(dep)
    lat = unit(np.asarray(lat_hint, float) - (np.asarray(lat_hint, float) @ dep) * dep)
    return Pose(np.asarray(target, float) - standoff * dep, dep, lat, standoff, extent)


def _ring(a: float) -> np.ndarray:
    return np.array([math.cos(a), math.sin(a), 0.0])


def nominal_poses(heart) -> dict[str, Pose]:
    """The standard pose of every view for ``heart`` (use the end-diastolic heart of a subject)."""
    m, subj = heart.marks, heart.subject
    X, Y, Z = subj.body
    wax = np.array([0.0, 0.0, 1.0])
    u = np.array([1.0, 0.0, 0.0])
    wb = float(m["base"][2])
    lv_r = heart.state.lv_a + heart.state.wall
    apex_o = m["apex_epi"] + subj.apical_window
    la_far = float(np.linalg.norm(m["la"] - apex_o)) + 3.0
    out: dict[str, Pose] = {}

    def apical(target, lat_hint, extra: float = 0.0) -> Pose:
        dep = unit(target - apex_o)
        reach = float(np.linalg.norm(target - apex_o))
        return make_pose(target, dep, lat_hint, reach, la_far + extra)

    out["A4C"] = apical(m["crux"] + 0.5 * wax, -u)
    out["A5C"] = apical(m["av"] + 0.4 * wax, -u)
    out["A2C"] = apical(m["mv"] + 0.6 * wax, _ring(subj.av_angle + math.radians(62)))
    out["A3C"] = apical(0.5 * (m["mv"] + m["av"]) + 0.5 * wax, _ring(subj.av_angle))
    e_av = _ring(subj.av_angle)
    mid = np.array([0.0, 0.0, 0.95 * wb])
    out["PLAX"] = make_pose(mid, unit(-e_av + 0.18 * wax), wax, lv_r + 5.2, lv_r + 5.2 + lv_r + 3.0)
    ant = unit(Y - (Y @ wax) * wax)
    left = X - (X @ wax) * wax  # image right = patient left, in the short-axis plane
    for view, h in (("PSAX-MV", wb - 0.65), ("PSAX-PM", subj.pm_w * wb), ("PSAX-AP", 0.15 * wb)):
        c = np.array([0.0, 0.0, h]) + 0.3 * ant
        out[view] = make_pose(c, -ant, left, lv_r + 5.2, lv_r + 5.2 + lv_r + 3.5)
    root = m["root_dir"]
    ant_r = unit(Y - (Y @ root) * root)
    out["PSAX-AV"] = make_pose(m["av"] + 0.15 * root, -ant_r, X - (X @ root) * root, 6.5, 6.5 + 7.0)
    # subcostal 4-chamber: through the liver from below the xiphoid, the 4-chamber plane tilted
    nrm = unit(np.array([0.0, 1.0, 0.0]) + 0.25 * u)
    d_sc = 0.3 * X - 0.6 * Y + 0.75 * Z
    d_sc = unit(d_sc - (d_sc @ nrm) * nrm)
    out["SC4C"] = make_pose(m["crux"] + 1.0 * u - 1.5 * wax, d_sc, -wax, 10.5, 17.0)
    # subcostal IVC: sagittal plane through the IVC entering the RA
    d_iv = unit(-0.75 * Y + 0.6 * Z)
    out["SCIVC"] = make_pose(m["ivc"] + 0.8 * Z, d_iv, Z, 8.5, 15.0)
    # suprasternal: the plane of the arch, looking down from the notch
    a0, top, a2 = m["asc"], m["arch_top"], m["arch2"]
    n_arch = unit(np.cross(a2 - a0, top - a0))
    down = unit(-Z - (-Z @ n_arch) * n_arch)
    centre = 0.5 * (a0 + a2) + 0.3 * (top - 0.5 * (a0 + a2))
    lat_ssn = a2 - a0
    out["SSN"] = make_pose(centre, down, lat_ssn, 6.5, 13.0)
    return out


def _stack(
    nominal: dict[str, Pose],
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    names = list(nominal)
    qs = [nominal[v] for v in names]
    return (
        names,
        np.array([q.origin for q in qs]),
        np.array([q.dep for q in qs]),
        np.array([q.normal for q in qs]),
        np.array([q.target for q in qs]),
        np.array([q.reach for q in qs]),
    )


def distances(p: Pose, nominal: dict[str, Pose]) -> tuple[list[str], np.ndarray]:
    """:func:`pose_distance` of ``p`` from every pose of ``nominal`` (names, distances)."""
    names, o, dep, nrm, tgt, reach = _stack(nominal)
    tp = p.origin[None, :] + reach[:, None] * p.dep[None, :]
    dt = np.linalg.norm(tp - tgt, axis=1) / SIGMA_TARGET_CM
    do = np.linalg.norm(p.origin[None, :] - o, axis=1) / SIGMA_ORIGIN_CM
    dd = np.degrees(np.arccos(np.clip(dep @ p.dep, -1, 1))) / SIGMA_DEP_DEG
    dn = np.degrees(np.arccos(np.clip(nrm @ p.normal, -1, 1))) / SIGMA_NORMAL_DEG
    return names, np.sqrt(dt * dt + do * do + dd * dd + dn * dn)


def pose_distance(p: Pose, q: Pose) -> float:
    """Dimensionless distance of pose ``p`` from the nominal pose ``q`` (1 = edge of q's neighbourhood).

    It weighs where the central beam reaches at q's depth of interest (1.2 cm), the probe position (4 cm),
    the beam direction (22 deg) and the plane orientation (20 deg).
    """
    return float(distances(p, {"q": q})[1][0])


def label_pose(p: Pose, nominal: dict[str, Pose]) -> tuple[str, float]:
    """(label, distance): the nearest standard view when within its neighbourhood, else ("OTHER", d)."""
    names, d = distances(p, nominal)
    k = int(np.argmin(d))
    return (names[k] if d[k] < 1.0 else "OTHER"), float(d[k])


def plane_distance(p: Pose, nominal: dict[str, Pose]) -> float:
    """How far the plane of ``p`` is from the nearest standard plane, wherever the probe sits: offset of
    the view's target from the plane (1.2 cm) and angle between the planes (20 deg, sign-less). A plane
    close to a view's plane seen from another window still looks like that view (rotated)."""
    n = p.normal
    best = math.inf
    for q in nominal.values():
        h = abs(float((q.target - p.origin) @ n)) / SIGMA_TARGET_CM
        ang = math.degrees(math.acos(min(1.0, abs(float(q.normal @ n))))) / SIGMA_NORMAL_DEG
        best = min(best, math.hypot(h, ang))
    return best


def rotate(p: Pose, axis: np.ndarray, deg: float, pivot: np.ndarray | None = None) -> Pose:
    """Rotate the pose by ``deg`` about ``axis`` through ``pivot`` (default: the probe)."""
    a = unit(axis)
    t = math.radians(deg)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    R = np.eye(3) + math.sin(t) * k + (1 - math.cos(t)) * (k @ k)
    piv = p.origin if pivot is None else pivot
    return Pose(piv + R @ (p.origin - piv), R @ p.dep, R @ p.lat, p.reach, p.extent)


def jitter(p: Pose, rng: np.random.Generator, pos_cm: float, tilt_deg: float, spin_deg: float) -> Pose:
    """Random spread about ``p``: probe shift, fanning (about lat), rocking (about dep), in-plane rotation."""
    q = Pose(p.origin + rng.normal(0, pos_cm, 3), p.dep, p.lat, p.reach, p.extent)
    q = rotate(q, q.lat, float(rng.normal(0, tilt_deg)))
    q = rotate(q, q.dep, float(rng.normal(0, tilt_deg)))
    return rotate(q, q.normal, float(rng.normal(0, spin_deg)))


def sample_view_pose(
    view: str, nominal: dict[str, Pose], rng: np.random.Generator, spread: float = 1.0
) -> Pose:
    """A pose of ``view`` within its neighbourhood (nearest nominal pose, distance < 0.85)."""
    q = nominal[view]
    s = spread
    for _ in range(30):
        p = jitter(q, rng, 0.45 * s, 5.0 * s, 6.0 * s)
        lab, d = label_pose(p, nominal)
        if lab == view and d < 0.85:
            return p
        s *= 0.85
    return q


def sample_other_pose(nominal: dict[str, Pose], centre: np.ndarray, rng: np.random.Generator) -> Pose:
    """An off-axis or intermediate pose well away (distance > 1.6) from every standard pose."""
    views = list(nominal)
    for _ in range(60):
        kind = rng.random()
        if kind < 0.5:  # between two standard poses, pushed off
            a, b = rng.choice(len(views), 2, replace=False)
            p = interpolate(nominal[views[a]], nominal[views[b]], float(rng.uniform(0.3, 0.7)))
            p = jitter(p, rng, 1.0, 12.0, 10.0)
        elif kind < 0.8:  # a standard pose badly off: foreshortened, tilted, rotated
            p = jitter(nominal[views[int(rng.integers(len(views)))]], rng, 1.5, 22.0, 25.0)
        else:  # anywhere on the chest, aimed near the heart
            d = unit(rng.normal(size=3))
            o = centre + float(rng.uniform(7, 13)) * d
            tgt = centre + rng.normal(0, 2.5, 3)
            p = make_pose(tgt, tgt - o, rng.normal(size=3), float(np.linalg.norm(tgt - o)), 16.0)
        if label_pose(p, nominal)[1] > 1.6 and plane_distance(p, nominal) > 1.2:
            return Pose(p.origin, p.dep, p.lat, p.reach, float(rng.uniform(13, 19)))
    return p


def interpolate(a: Pose, b: Pose, t: float) -> Pose:
    """Pose a fraction ``t`` of the way from ``a`` to ``b`` (positions linear, directions normalised lerp)."""
    dep = unit((1 - t) * a.dep + t * b.dep)
    lat = (1 - t) * a.lat + t * b.lat
    if np.linalg.norm(lat - (lat @ dep) * dep) < 1e-3:
        lat = a.lat
    lat = unit(lat - (lat @ dep) * dep)
    return Pose(
        (1 - t) * a.origin + t * b.origin,
        dep,
        lat,
        (1 - t) * a.reach + t * b.reach,
        (1 - t) * a.extent + t * b.extent,
    )
