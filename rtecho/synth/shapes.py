"""Implicit 2-D shapes (approximate signed distance in cm, with outward normals) and their composition.

Every shape answers ``sdf(x, z) -> (d, nx, nz)``: ``d < 0`` inside, ``(nx, nz)`` the unit outward normal.
A scene is a list of :class:`Layer` painted in order (painter's algorithm) into two maps on the beam grid:
``E`` (diffuse scatterer amplitude, the echogenicity) and ``S`` (coherent specular amplitude).
Brightness of tissue and specular lines depends on the angle between the beam and the interface:
``factor = (1 - aniso) + aniso * |n . b|`` with ``b`` the beam direction, which darkens walls
parallel to the beam (lateral LV wall, interatrial septum in apical views).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Arr = np.ndarray
EDGE_CM = 0.12  # width of the soft edge of filled shapes


def _rot(x: Arr, z: Arr, cx: float, cz: float, rot: float) -> tuple[Arr, Arr, float, float]:
    c, s = math.cos(rot), math.sin(rot)
    dx, dz = x - cx, z - cz
    return dx * c + dz * s, -dx * s + dz * c, c, s


@dataclass(frozen=True)
class Ellipse:
    """Ellipse centred at (cx, cz), half-axes a (along u) and b (along v), rotated by ``rot`` radians.

    ``trunc`` keeps only ``v <= trunc * b`` (a cavity cut at its valve plane).
    """

    cx: float
    cz: float
    a: float
    b: float
    rot: float = 0.0
    trunc: float | None = None

    def sdf(self, x: Arr, z: Arr) -> tuple[Arr, Arr, Arr]:
        u, v, c, s = _rot(x, z, self.cx, self.cz, self.rot)
        a2, b2 = self.a * self.a, self.b * self.b
        q = u * u / a2 + v * v / b2
        gu, gv = 2 * u / a2, 2 * v / b2
        g = np.sqrt(gu * gu + gv * gv) + 1e-6
        d = (q - 1.0) / g
        gu, gv = gu / g, gv / g
        if self.trunc is not None:
            dt = v - self.trunc * self.b
            sel = dt > d
            d = np.where(sel, dt, d)
            gu = np.where(sel, 0.0, gu)
            gv = np.where(sel, 1.0, gv)
        return d, gu * c - gv * s, gu * s + gv * c

    def area(self) -> float:
        """Area (cm^2), truncation included."""
        if self.trunc is None:
            return math.pi * self.a * self.b
        t = self.trunc
        return self.a * self.b * (math.pi / 2 + t * math.sqrt(1 - t * t) + math.asin(t))


@dataclass(frozen=True)
class Capsule:
    """Segment from (x0, z0) to (x1, z1) thickened by ``radius`` (vessels, leaflets, bands)."""

    x0: float
    z0: float
    x1: float
    z1: float
    radius: float

    def sdf(self, x: Arr, z: Arr) -> tuple[Arr, Arr, Arr]:
        ex, ez = self.x1 - self.x0, self.z1 - self.z0
        ll = ex * ex + ez * ez + 1e-12
        t = np.clip(((x - self.x0) * ex + (z - self.z0) * ez) / ll, 0.0, 1.0)
        px, pz = x - (self.x0 + t * ex), z - (self.z0 + t * ez)
        dist = np.sqrt(px * px + pz * pz) + 1e-6
        return dist - self.radius, px / dist, pz / dist


@dataclass(frozen=True)
class Arc:
    """Tube of half-width ``radius`` along a circular arc (centre, ``r_arc``, angles in degrees).

    Angles count counter-clockwise on screen from image-right: 90 deg points up (towards the probe).
    """

    cx: float
    cz: float
    r_arc: float
    a0_deg: float
    a1_deg: float
    radius: float

    def sdf(self, x: Arr, z: Arr) -> tuple[Arr, Arr, Arr]:
        dx, dz = x - self.cx, z - self.cz
        rr = np.sqrt(dx * dx + dz * dz) + 1e-6
        ang = np.degrees(np.arctan2(-dz, dx))
        lo, hi = min(self.a0_deg, self.a1_deg), max(self.a0_deg, self.a1_deg)
        mid = 0.5 * (lo + hi)
        rel = (ang - mid + 180.0) % 360.0 - 180.0
        inside = np.abs(rel) <= 0.5 * (hi - lo)
        radial = rr - self.r_arc
        d_in = np.abs(radial)
        sgn = np.sign(radial) + (radial == 0)
        nx_in, nz_in = sgn * dx / rr, sgn * dz / rr
        ends = []
        for a in (lo, hi):
            ex = self.cx + self.r_arc * math.cos(math.radians(a))
            ez = self.cz - self.r_arc * math.sin(math.radians(a))
            px, pz = x - ex, z - ez
            ends.append((np.sqrt(px * px + pz * pz) + 1e-6, px, pz))
        (d0, px0, pz0), (d1, px1, pz1) = ends
        first = d0 < d1
        d_end = np.where(first, d0, d1)
        nx_end = np.where(first, px0, px1) / d_end
        nz_end = np.where(first, pz0, pz1) / d_end
        d = np.where(inside, d_in, d_end)
        return d - self.radius, np.where(inside, nx_in, nx_end), np.where(inside, nz_in, nz_end)


Shape = Ellipse | Capsule | Arc


@dataclass(frozen=True)
class Layer:
    """One painting step.

    kind: ``fill`` (paint ``value`` where d < 0), ``shell`` (paint where ``lo <= d < hi``, e.g. a wall of
    thickness ``hi`` around a cavity), ``spec`` (add a coherent specular line of strength ``value`` and
    half-width ``hi`` along the boundary d = lo; ``far`` in [0, 1] restricts it to the side facing away
    from the probe).
    """

    kind: str
    shape: Shape
    value: float
    aniso: float = 0.0
    lo: float = 0.0
    hi: float = 0.0
    far: float = 0.0


@dataclass(frozen=True)
class Placement:
    """Rigid placement (+ uniform scale) of a group of layers in the sector: local = R^-1 (p - t) / s."""

    rot: float = 0.0
    tx: float = 0.0
    tz: float = 0.0
    scale: float = 1.0
    pivot_x: float = 0.0
    pivot_z: float = 0.0

    def to_local(self, x: Arr, z: Arr) -> tuple[Arr, Arr]:
        c, s = math.cos(self.rot), math.sin(self.rot)
        dx, dz = x - self.tx - self.pivot_x, z - self.tz - self.pivot_z
        lx = (dx * c + dz * s) / self.scale
        lz = (-dx * s + dz * c) / self.scale
        return lx + self.pivot_x, lz + self.pivot_z

    def dir_to_local(self, bx: Arr, bz: Arr) -> tuple[Arr, Arr]:
        c, s = math.cos(self.rot), math.sin(self.rot)
        return bx * c + bz * s, -bx * s + bz * c


def paint(
    groups: list[tuple[list[Layer], Placement]],
    x: Arr,
    z: Arr,
    bx: Arr,
    bz: Arr,
    background: Arr,
    scale: float = 1.0,
) -> tuple[Arr, Arr]:
    """Paint the layer groups on points (x, z) cm with beam directions (bx, bz); returns (E, S).

    ``scale`` converts local distances back to sector cm when (x, z) were already scaled by a placement.
    """
    E = background.astype(np.float32, copy=True)
    S = np.zeros_like(E)
    for layers, place in groups:
        lx, lz = place.to_local(x, z)
        lbx, lbz = place.dir_to_local(bx, bz)
        for layer in layers:
            d, nx, nz = layer.shape.sdf(lx, lz)
            d = d * (place.scale * scale)
            if layer.kind == "spec":
                w = max(layer.hi, 1e-3)
                t = (d - layer.lo) / w
                line = np.exp(-t * t)
                dot = nx * lbx + nz * lbz
                wgt = (1 - layer.aniso) + layer.aniso * dot * dot
                if layer.far > 0:  # mostly on the far side of the shape (posterior pericardium)
                    wgt = wgt * ((1 - layer.far) + layer.far * np.clip(dot, 0, 1) ** 2)
                spec = (layer.value * line * wgt).astype(np.float32)
                S += 0.35 * spec  # coherent part
                E += 0.8 * spec  # rough interface: mostly speckled, bright
                continue
            if layer.kind == "shell":
                occ = np.clip(0.5 - (d - layer.hi) / EDGE_CM, 0, 1) * np.clip(
                    0.5 + (d - layer.lo) / EDGE_CM, 0, 1
                )
            else:
                occ = np.clip(0.5 - d / EDGE_CM, 0, 1)
            val = layer.value
            if layer.aniso > 0:
                cosang = np.abs(nx * lbx + nz * lbz)
                val = layer.value * ((1 - layer.aniso) + layer.aniso * cosang)
            E += (occ * (val - E)).astype(np.float32)
    return E, S


def inside(shape: Shape, place: Placement, x: Arr, z: Arr) -> Arr:
    """Boolean mask of the points (x, z) cm inside ``shape`` placed by ``place``."""
    lx, lz = place.to_local(x, z)
    d, _, _ = shape.sdf(lx, lz)
    return d < 0
