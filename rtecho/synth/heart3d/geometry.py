"""Implicit 3-D primitives evaluated on the points of an imaging plane (never on a voxel volume).

Every primitive answers ``sdf(P)`` with ``P = (x, y, z)`` a tuple of equally shaped float32 arrays (points
in heart cm): an approximate signed distance ``d`` (cm, negative inside) and, on request, the unit
outward normal as a 3-tuple of arrays. ``bound()`` is a bounding sphere, so that slicing evaluates a
primitive only where the imaging plane can meet it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

Arr = np.ndarray
Pts = tuple[Arr, Arr, Arr]
Vec = np.ndarray


def unit(v) -> Vec:
    v = np.asarray(v, dtype=np.float64)
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


@dataclass(frozen=True)
class Ellipsoid:
    """Ellipsoid of half-axes ``semi`` about ``centre``; ``axes`` rows are its local unit axes (default: x, y, z).

    ``z_hi``/``z_lo`` cut it by planes of constant local z (a chamber open at its valve plane).
    """

    centre: Vec
    semi: Vec
    axes: Vec | None = None
    z_hi: float | None = None
    z_lo: float | None = None

    def bound(self) -> tuple[Vec, float]:
        return np.asarray(self.centre), float(np.max(self.semi))

    def _local(self, P: Pts) -> Pts:
        c = self.centre
        x, y, z = P[0] - np.float32(c[0]), P[1] - np.float32(c[1]), P[2] - np.float32(c[2])
        if self.axes is None:
            return x, y, z
        a = self.axes.astype(np.float32)
        return (
            a[0, 0] * x + a[0, 1] * y + a[0, 2] * z,
            a[1, 0] * x + a[1, 1] * y + a[1, 2] * z,
            a[2, 0] * x + a[2, 1] * y + a[2, 2] * z,
        )

    def sdf(self, P: Pts, normal: bool = False) -> tuple[Arr, Pts | None]:
        lx, ly, lz = self._local(P)
        sx, sy, sz = (np.float32(1.0 / s) for s in self.semi)
        qx, qy, qz = lx * sx, ly * sy, lz * sz
        k0 = np.sqrt(qx * qx + qy * qy + qz * qz) + np.float32(1e-6)
        gx, gy, gz = qx * sx, qy * sy, qz * sz
        k1 = np.sqrt(gx * gx + gy * gy + gz * gz) + np.float32(1e-6)
        d = k0 * (k0 - 1) / k1
        cut = None
        if self.z_hi is not None:
            dt = lz - np.float32(self.z_hi)
            cut = dt > d
            d = np.maximum(d, dt)
        cut_lo = None
        if self.z_lo is not None:
            dt = np.float32(self.z_lo) - lz
            cut_lo = dt > d
            d = np.maximum(d, dt)
        if not normal:
            return d, None
        nx, ny, nz = gx / k1, gy / k1, gz / k1
        if cut is not None:
            nx, ny, nz = np.where(cut, 0, nx), np.where(cut, 0, ny), np.where(cut, 1, nz)
        if cut_lo is not None:
            nx, ny, nz = np.where(cut_lo, 0, nx), np.where(cut_lo, 0, ny), np.where(cut_lo, -1, nz)
        if self.axes is not None:
            a = self.axes.astype(np.float32)
            nx, ny, nz = (
                a[0, 0] * nx + a[1, 0] * ny + a[2, 0] * nz,
                a[0, 1] * nx + a[1, 1] * ny + a[2, 1] * nz,
                a[0, 2] * nx + a[1, 2] * ny + a[2, 2] * nz,
            )
        return d, (nx, ny, nz)


@dataclass(frozen=True)
class Tube:
    """A tube along the polyline ``nodes`` (K, 3) with radius interpolated between ``radii`` (K,)."""

    nodes: Vec
    radii: Vec
    segs: tuple = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:  # bounding sphere (centre, radius) of every segment
        a, b = self.nodes[:-1], self.nodes[1:]
        half = 0.5 * np.linalg.norm(b - a, axis=1) + np.maximum(self.radii[:-1], self.radii[1:])
        object.__setattr__(self, "segs", tuple(zip(0.5 * (a + b), half.tolist(), strict=True)))

    def bound(self) -> tuple[Vec, float]:
        lo, hi = self.nodes.min(axis=0), self.nodes.max(axis=0)
        return 0.5 * (lo + hi), 0.5 * float(np.linalg.norm(hi - lo)) + float(np.max(self.radii))

    def _closest(self, P: Pts, k: int) -> tuple[Arr, Arr, Arr, Arr, Arr, Arr]:
        """(offset from the closest point of segment ``k``'s axis: qx, qy, qz; its length; the
        segment parameter t; the radius there)."""
        a, b = self.nodes[k], self.nodes[k + 1]
        r0, r1 = float(self.radii[k]), float(self.radii[k + 1])
        e = (b - a).astype(np.float32)
        ll = float(e @ e) + 1e-9
        px, py, pz = P[0] - np.float32(a[0]), P[1] - np.float32(a[1]), P[2] - np.float32(a[2])
        t = np.clip((px * e[0] + py * e[1] + pz * e[2]) * np.float32(1.0 / ll), 0, 1)
        qx, qy, qz = px - t * e[0], py - t * e[1], pz - t * e[2]
        return qx, qy, qz, np.sqrt(qx * qx + qy * qy + qz * qz), t, np.float32(r0) + t * np.float32(r1 - r0)

    def segment(self, P: Pts, k: int) -> Arr:
        """Signed distance to segment ``k`` alone."""
        _, _, _, length, _, radius = self._closest(P, k)
        return length - radius

    def sdf(self, P: Pts, normal: bool = False) -> tuple[Arr, Pts | None]:
        best = None
        bx = by = bz = None
        for k in range(len(self.nodes) - 1):
            qx, qy, qz, length, _, radius = self._closest(P, k)
            dist = length + np.float32(1e-6)
            d = dist - radius
            if best is None:
                best = d
                if normal:
                    bx, by, bz = qx / dist, qy / dist, qz / dist
            else:
                sel = d < best
                best = np.where(sel, d, best)
                if normal:
                    bx = np.where(sel, qx / dist, bx)
                    by = np.where(sel, qy / dist, by)
                    bz = np.where(sel, qz / dist, bz)
        if best is None:
            best = np.full(P[0].shape, 1e3, np.float32)
            if normal:
                z = np.zeros_like(best)
                bx, by, bz = z, z, z + 1
        return best, ((bx, by, bz) if normal else None)


@dataclass(frozen=True)
class ConeSheet:
    """A valve leaflet: the surface swept round ``axis`` by the segment (rho0, 0) -> (rho1, h1) in
    (radius, height) coordinates about ``centre``, kept where (P - centre) . ``side`` >= 0 (one leaflet) or
    everywhere when ``side`` is None; ``squash`` shortens the radius along ``side`` (fish-mouth orifice)."""

    centre: Vec
    axis: Vec
    rho0: float
    rho1: float
    h1: float
    half: float = 0.08
    side: Vec | None = None
    squash: float = 1.0

    def bound(self) -> tuple[Vec, float]:
        return np.asarray(self.centre), max(self.rho0, self.rho1) + abs(self.h1) + self.half

    def sdf(self, P: Pts, normal: bool = False) -> tuple[Arr, Pts | None]:
        c, ax = self.centre, self.axis.astype(np.float32)
        px, py, pz = P[0] - np.float32(c[0]), P[1] - np.float32(c[1]), P[2] - np.float32(c[2])
        h = px * ax[0] + py * ax[1] + pz * ax[2]
        rx, ry, rz = px - h * ax[0], py - h * ax[1], pz - h * ax[2]
        if self.side is not None and self.squash != 1.0:
            s = self.side.astype(np.float32)
            along = rx * s[0] + ry * s[1] + rz * s[2]
            k = np.float32(1.0 / self.squash - 1.0)
            rx, ry, rz = rx + k * along * s[0], ry + k * along * s[1], rz + k * along * s[2]
        rho = np.sqrt(rx * rx + ry * ry + rz * rz)
        ex, eh = self.rho1 - self.rho0, self.h1
        ll = ex * ex + eh * eh + 1e-9
        t = np.clip(
            ((rho - np.float32(self.rho0)) * np.float32(ex) + h * np.float32(eh)) / np.float32(ll), 0, 1
        )
        dx, dh = rho - (np.float32(self.rho0) + t * np.float32(ex)), h - t * np.float32(eh)
        d = np.sqrt(dx * dx + dh * dh) - np.float32(self.half)
        if self.side is not None:
            s = self.side.astype(np.float32)
            off = px * s[0] + py * s[1] + pz * s[2]
            d = np.maximum(d, -off)
        if not normal:
            return d, None
        # normal of the sheet: perpendicular to the generating segment in the (rho, h) half-plane
        inv = np.float32(1.0 / math.sqrt(ll))
        nr, nh = np.float32(eh) * inv, -np.float32(ex) * inv
        rr = rho + np.float32(1e-6)
        return d, (
            nr * rx / rr + nh * ax[0],
            nr * ry / rr + nh * ax[1],
            nr * rz / rr + nh * ax[2],
        )


@dataclass(frozen=True)
class Fins:
    """Closed semilunar valve: ``n`` radial fins (coaptation lines, the "Mercedes sign") of a root of radius
    ``radius`` about ``axis`` at ``centre``, of height ``height``; ``ref`` sets the azimuth of the first fin."""

    centre: Vec
    axis: Vec
    ref: Vec
    radius: float
    height: float
    half: float = 0.07
    n: int = 3

    def bound(self) -> tuple[Vec, float]:
        return np.asarray(self.centre), self.radius + self.height

    def sdf(self, P: Pts, normal: bool = False) -> tuple[Arr, Pts | None]:
        ax = self.axis.astype(np.float32)
        e1 = unit(self.ref - (self.ref @ self.axis) * self.axis).astype(np.float32)
        e2 = np.cross(ax, e1).astype(np.float32)
        c = self.centre
        px, py, pz = P[0] - np.float32(c[0]), P[1] - np.float32(c[1]), P[2] - np.float32(c[2])
        h = px * ax[0] + py * ax[1] + pz * ax[2]
        u = px * e1[0] + py * e1[1] + pz * e1[2]
        v = px * e2[0] + py * e2[1] + pz * e2[2]
        best = None
        for k in range(self.n):
            a = 2 * math.pi * k / self.n
            ca, sa = np.float32(math.cos(a)), np.float32(math.sin(a))
            t = np.clip(u * ca + v * sa, 0, self.radius)
            du, dv = u - t * ca, v - t * sa
            dd = np.sqrt(du * du + dv * dv)
            best = dd if best is None else np.minimum(best, dd)
        dh = np.maximum(np.abs(h - np.float32(0.5 * self.height)) - np.float32(0.5 * self.height), 0)
        d = np.sqrt(best * best + dh * dh) - np.float32(self.half)
        if not normal:
            return d, None
        z = np.zeros_like(d)
        return d, (z + ax[0], z + ax[1], z + ax[2])


@dataclass(frozen=True)
class Torus:
    """A ring (valve annulus, atrioventricular groove): circle of radius ``ring`` about ``axis`` at ``centre``,
    thickened by ``half``."""

    centre: Vec
    axis: Vec
    ring: float
    half: float

    def bound(self) -> tuple[Vec, float]:
        return np.asarray(self.centre), self.ring + self.half

    def sdf(self, P: Pts, normal: bool = False) -> tuple[Arr, Pts | None]:
        c, ax = self.centre, self.axis.astype(np.float32)
        px, py, pz = P[0] - np.float32(c[0]), P[1] - np.float32(c[1]), P[2] - np.float32(c[2])
        h = px * ax[0] + py * ax[1] + pz * ax[2]
        rx, ry, rz = px - h * ax[0], py - h * ax[1], pz - h * ax[2]
        rho = np.sqrt(rx * rx + ry * ry + rz * rz) + np.float32(1e-6)
        dr = rho - np.float32(self.ring)
        dist = np.sqrt(dr * dr + h * h) + np.float32(1e-6)
        d = dist - np.float32(self.half)
        if not normal:
            return d, None
        k = dr / (dist * rho)
        return d, (k * rx + h * ax[0] / dist, k * ry + h * ax[1] / dist, k * rz + h * ax[2] / dist)
