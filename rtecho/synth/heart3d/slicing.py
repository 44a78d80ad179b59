"""Slicing: evaluate the 3-D tissue functions on the points of the imaging plane into echo maps.

The points of the beam grid (x lateral, z depth, cm) map to heart cm as ``P = o + x lat + z dep``; beam
directions likewise. Tissues are painted in order (surroundings, fat, walls, blood, papillary muscles,
speculars) as soft-edged occupancies into a diffuse echogenicity map ``E`` and a coherent specular map
``S`` (the maps :func:`rtecho.synth.physics.beamform` takes). Myocardium is a volume, mid-grey and
textured; its brightness falls where the wall runs parallel to the beam (``|n . b|`` with the 3-D wall
normal), so lateral walls and the interatrial septum fade and drop out in apical views.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rtecho.synth.heart3d.anatomy import Heart
from rtecho.synth.heart3d.geometry import Tube
from rtecho.synth.heart3d.poses import Pose

EDGE_CM = 0.14
MYO = 1.0
BLOOD = 0.012
FIBROUS = 1.5
FAT = 0.75
LIVER = 0.55
VALVE = 1.3


@dataclass(frozen=True)
class Style:
    """Per-acquisition tissue appearance (none of it defines a view)."""

    myo: float = 1.0
    aniso: float = 0.65
    blood: float = 1.0
    fat: float = 1.0
    liver: float = 1.0
    peri: float = 4.0
    leaflet: float = 1.0
    texture: float = 0.3
    lung: float = 1.0
    haze: float = 1.0
    edge_fade: float = 0.0
    background: float = 1.0


def random_style(rng: np.random.Generator) -> Style:
    return Style(
        myo=float(rng.uniform(0.7, 1.25)),
        aniso=float(rng.uniform(0.75, 0.97)),
        blood=float(rng.uniform(0.6, 2.5)),
        fat=float(rng.uniform(0.6, 1.6)),
        liver=float(rng.uniform(0.7, 1.4)),
        peri=float(rng.uniform(2.0, 5.0)),
        leaflet=float(rng.uniform(0.6, 1.4)),
        texture=float(rng.uniform(0.25, 0.6)),
        lung=float(rng.uniform(0.1, 1.0)) if rng.random() < 0.7 else 1.0,
        haze=float(np.exp(rng.uniform(0.0, 1.4))),
        edge_fade=float(rng.uniform(0.0, 0.8)),
        background=float(np.exp(rng.uniform(-0.7, 1.4))),
    )


def plane_points(pose: Pose, x: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Heart-frame coordinates of in-plane points (x lateral, z depth, cm)."""
    o, lat, dep = (v.astype(np.float32) for v in (pose.origin, pose.lat, pose.dep))
    return (o[0] + x * lat[0] + z * dep[0], o[1] + x * lat[1] + z * dep[1], o[2] + x * lat[2] + z * dep[2])


Box = tuple[slice, slice]
# vessel walls: the lumen's tube grown by the wall thickness (cm)
WALLS = {
    "ao_wall": ("aorta", 0.22),
    "rvot_wall": ("rvot", 0.15),
    "pa_br_wall": ("pa_br", 0.2),
    "ivc_wall": ("ivc", 0.15),
}


class _Slicer:
    """Evaluates primitives only on the part of the polar grid their bounding sphere can reach."""

    def __init__(self, heart: Heart, P, pose: Pose, theta: np.ndarray, r: np.ndarray, pad: float) -> None:
        self.h, self.P, self.pose, self.pad = heart, P, pose, pad
        self._vecs = tuple(tuple(float(t) for t in v) for v in (pose.origin, pose.normal, pose.lat, pose.dep))
        self.th0, self.dth, self.nl = float(theta[0]), float(theta[1] - theta[0]), len(theta)
        self.r0, self.dr, self.ns = float(r[0]), float(r[1] - r[0]), len(r)
        self.shape = P[0].shape
        self.subs: dict[str, tuple[np.ndarray, Box] | None] = {}
        self.fulls: dict[str, np.ndarray] = {}

    def box(self, c: np.ndarray, rad: float) -> Box | None:
        o, n, la, de = self._vecs
        vx, vy, vz = float(c[0]) - o[0], float(c[1]) - o[1], float(c[2]) - o[2]
        h = vx * n[0] + vy * n[1] + vz * n[2]
        rad = rad + self.pad
        if abs(h) >= rad:
            return None
        rp = math.sqrt(rad * rad - h * h)
        xc = vx * la[0] + vy * la[1] + vz * la[2]
        zc = vx * de[0] + vy * de[1] + vz * de[2]
        rho = math.hypot(xc, zc)
        s0 = max(0, int((rho - rp - self.r0) / self.dr))
        s1 = min(self.ns, int((rho + rp - self.r0) / self.dr) + 2)
        if rho > rp:
            th, dth = math.atan2(xc, zc), math.asin(rp / rho)
            l0 = max(0, int(math.floor((th - dth - self.th0) / self.dth)))
            l1 = min(self.nl, int(math.ceil((th + dth - self.th0) / self.dth)) + 1)
        else:
            l0, l1 = 0, self.nl
        if s1 - s0 < 3 or l1 - l0 < 1:
            return None
        return (slice(l0, l1), slice(s0, s1))

    def _pts(self, box: Box):
        return (self.P[0][box], self.P[1][box], self.P[2][box])

    def sub(self, name: str) -> tuple[np.ndarray, Box] | None:
        """(signed distance on the box, box), or None where the primitive misses the fan."""
        if name in self.subs:
            return self.subs[name]
        prim = self.h.prims.get(name)
        out = None
        if name in WALLS:
            lumen, thick = WALLS[name]
            sb = self.sub(lumen)
            out = None if sb is None else (sb[0] - np.float32(thick), sb[1])
        elif isinstance(prim, Tube):
            boxes = []
            for k, (mid, rad) in enumerate(prim.segs):
                bx = self.box(mid, rad)
                if bx is not None:
                    boxes.append((k, bx))
            if boxes:
                l0 = min(b[0].start for _, b in boxes)
                l1 = max(b[0].stop for _, b in boxes)
                s0 = min(b[1].start for _, b in boxes)
                s1 = max(b[1].stop for _, b in boxes)
                d = np.full((l1 - l0, s1 - s0), 1e3, np.float32)
                for k, bx in boxes:
                    rel = (slice(bx[0].start - l0, bx[0].stop - l0), slice(bx[1].start - s0, bx[1].stop - s0))
                    d[rel] = np.minimum(d[rel], prim.segment(self._pts(bx), k))
                out = (d, (slice(l0, l1), slice(s0, s1)))
        elif prim is not None:
            bx = self.box(*prim.bound())
            if bx is not None:
                out = (prim.sdf(self._pts(bx))[0], bx)
        self.subs[name] = out
        return out

    def full(self, name: str) -> np.ndarray:
        """Signed distance on the whole grid (1e3 where the primitive cannot reach)."""
        if name not in self.fulls:
            arr = np.full(self.shape, 1e3, np.float32)
            sb = self.sub(name)
            if sb is not None:
                arr[sb[1]] = sb[0]
            self.fulls[name] = arr
        return self.fulls[name]


def _occ(d: np.ndarray) -> np.ndarray:
    return np.clip(np.float32(0.5) - d * np.float32(1.0 / EDGE_CM), 0, 1)


def _paint(E: np.ndarray, d: np.ndarray, val) -> None:
    E += _occ(d) * (val - E)


def _spec(S: np.ndarray, E: np.ndarray, d: np.ndarray, value: float, width: float, wgt) -> None:
    t = d * np.float32(1.0 / width)
    line = np.exp(-t * t) * (value * wgt)
    S += np.float32(0.35) * line
    E += np.float32(0.8) * line


def _smin(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    h = np.clip(np.float32(k) - np.abs(a - b), 0, None) * np.float32(1.0 / k)
    return np.minimum(a, b) - h * h * np.float32(0.25 * k)


def _radial(d: np.ndarray, dr: float) -> np.ndarray:
    """d(d)/dr along the beam (samples axis): n . b for a signed distance, clipped to [-1, 1]."""
    g = np.empty_like(d)
    g[:, 1:-1] = (d[:, 2:] - d[:, :-2]) * np.float32(0.5 / dr)
    g[:, 0], g[:, -1] = g[:, 1], g[:, -2]
    return np.clip(g, -1, 1)


def _at(v, box: Box):
    return v[box] if isinstance(v, np.ndarray) and v.ndim == 2 else v


def slice_maps(
    heart: Heart,
    pose: Pose,
    x: np.ndarray,
    z: np.ndarray,
    theta: np.ndarray,
    r: np.ndarray,
    background: np.ndarray,
    style: Style,
    texture: np.ndarray | None = None,
    pad: float = 0.6,
) -> tuple[np.ndarray, np.ndarray]:
    """Diffuse (E) and specular (S) maps of ``heart`` cut by ``pose`` at in-plane points (x, z).

    ``(x, z)`` lie on the polar beam grid of angles ``theta`` (lines) and ranges ``r`` (samples), possibly
    displaced by a smooth warp of at most ``pad`` cm. The cosine between a surface normal and the beam is
    the derivative of its signed distance along the samples axis.
    """
    P = plane_points(pose, x, z)
    dr = float(r[1] - r[0])
    sl = _Slicer(heart, P, pose, theta, r, pad)
    E = background.astype(np.float32, copy=True)
    S = np.zeros_like(E)
    tex = np.float32(1.0) if texture is None else texture
    a = np.float32(style.aniso)

    def angular(d: np.ndarray) -> np.ndarray:
        c = _radial(d, dr)
        return (1 - a) + a * c * c

    def paint(name: str, val, csg=None, offset: float = 0.0, ang: str | None = None) -> None:
        sb = sl.sub(name)
        if sb is None:
            return
        d, box = sb
        if offset:
            d = d + np.float32(offset)
        if csg is not None:
            d = np.maximum(d, csg(box))
        v = _at(val, box)
        if ang is not None:
            aw = sl.sub(ang)
            v = v * (angular(sl.full(ang)[box]) if aw is not None else 1.0)
        e = E[box]
        e += _occ(d) * (v - e)

    env = None
    for name in ("lv_epi", "rv_epi", "la_epi", "ra_epi"):
        d = sl.full(name)
        env = d if env is None else _smin(env, d, 1.3)
    if style.lung < 1.0:  # aerated lung beside the heart: little tissue signal beyond the pericardium
        far_r = np.clip((r - 2.5) * np.float32(1.0 / 1.5), 0, 1)[None, :]
        k = np.exp(-np.clip(env, 0, None) * np.float32(0.5))
        E *= 1 - far_r * (1 - style.lung) * (1 - k)
    # surroundings: liver (minus the heart), with the diaphragm/liver capsule as a specular surface
    sb = sl.sub("liver")
    if sb is not None:
        d_liv, box = sb
        d_liv = np.maximum(d_liv, -(env[box] - 0.6))
        e = E[box]
        e += _occ(d_liv) * (LIVER * style.liver * _at(tex, box) - e)
        for name in ("ivc", "hv"):
            paint(name, FIBROUS, csg=lambda bx, dl=d_liv, b0=box: _crop(dl, b0, bx), offset=-0.2)
        _spec(S[box], E[box], d_liv, 1.6, 0.16, angular(d_liv))
    # epicardial fat filling the pericardial sac (AV groove, between chambers)
    _paint(E, env, FAT * 0.6 * style.fat * tex)  # the smooth envelope fills only the crevices
    paint("av_groove", FAT * 1.3 * style.fat * tex)
    # walls (volumes with thickness); brightness follows the angle between beam and the wall normal
    myo = MYO * style.myo * tex
    paint("lv_epi", myo, ang="lv_cav")
    paint("rv_epi", 0.85 * myo, ang="rv_cav", csg=lambda bx: -sl.full("lv_epi")[bx])
    paint("la_epi", 0.35 * myo, ang="la_cav")
    paint("ra_epi", 0.3 * myo, ang="ra_cav")
    for name, val in (("ao_wall", FIBROUS), ("rvot_wall", 1.0), ("pa_br_wall", 1.0), ("ivc_wall", 1.1)):
        paint(name, val * tex, ang=name)
    paint("mv_ring", FIBROUS * tex)
    paint("tv_ring", tex)
    # blood pools (dark, with a little smoke); CSG: ventricles and atria keep their septa
    blood = np.float32(BLOOD * style.blood)
    lv_epi, la_epi = sl.full("lv_epi"), sl.full("la_epi")
    ao_wall = sl.full("ao_wall")
    paint("lv_cav", blood)
    paint("rv_cav", blood, csg=lambda bx: -lv_epi[bx])
    paint("la_cav", blood)
    paint("ra_cav", blood, csg=lambda bx: -la_epi[bx])
    for name in ("aorta", "neck0", "neck1", "neck2", "svc", "ivc", "hv"):
        paint(name, blood)
    for name in ("rvot", "pa_br"):
        paint(name, blood, csg=lambda bx: np.maximum(-ao_wall[bx], -lv_epi[bx]))
    # papillary muscles and moderator band inside the ventricles
    for name in ("pm1", "pm2", "mod_band"):
        paint(name, myo, ang=name)
    # speculars: pericardium (brightest, on the far side of the heart), valve leaflets, aortic walls
    near = env < 1.0
    if near.any():
        g = _radial(env, dr)
        far = np.float32(0.03) + np.clip(g, 0, 1) ** 3 + np.float32(0.3) * np.clip(-g, 0, 1) ** 3
        _spec(S, E, env - 0.15, style.peri, 0.14, far)
    for name in ("mv_ant", "mv_post", "tv_leaf", "av_cusps", "pv_cusps"):
        sb = sl.sub(name)
        if sb is None:
            continue
        dl, box = sb
        e = E[box]
        e += _occ(dl) * (VALVE * style.leaflet - e)
        w = np.float32(0.5) + np.float32(0.5) * np.abs(_radial(dl, dr))
        _spec(S[box], E[box], dl + 0.04, 0.9 * style.leaflet, 0.07, w)
    sb = sl.sub("aorta")
    if sb is not None:
        dl, box = sb
        outside_lv = np.clip(sl.full("lv_cav")[box] * np.float32(1.0 / EDGE_CM), 0, 1)
        _spec(S[box], E[box], dl - 0.05, 0.8, 0.08, angular(dl) * 0.8 * outside_lv)
    return E, S


def _crop(d: np.ndarray, box: Box, inner: Box) -> np.ndarray:
    """``d`` given on ``box``, read on ``inner`` (1e3 outside ``box``)."""
    out = np.full((inner[0].stop - inner[0].start, inner[1].stop - inner[1].start), 1e3, np.float32)
    l0, l1 = max(box[0].start, inner[0].start), min(box[0].stop, inner[0].stop)
    s0, s1 = max(box[1].start, inner[1].start), min(box[1].stop, inner[1].stop)
    if l0 < l1 and s0 < s1:
        out[l0 - inner[0].start : l1 - inner[0].start, s0 - inner[1].start : s1 - inner[1].start] = d[
            l0 - box[0].start : l1 - box[0].start, s0 - box[1].start : s1 - box[1].start
        ]
    return out


def lv_mask(heart: Heart, pose: Pose, x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Boolean mask of the in-plane points inside the 3-D LV cavity."""
    P = plane_points(pose, x, z)
    d, _ = heart.prims["lv_cav"].sdf(P)
    return d < 0
