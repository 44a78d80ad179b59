"""Still rendering: draw the nuisance factors of one acquisition and render a view through the physics."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from rtecho._lazy import require
from rtecho.synth.anatomy import cycle_state, random_patient
from rtecho.synth.config import SynthConfig, check_size, check_view
from rtecho.synth.layouts import build_scene
from rtecho.synth.physics import (
    BeamGrid,
    BeamParams,
    BeamStages,
    FanGeometry,
    beam_grid,
    beamform,
    scan_convert,
)
from rtecho.synth.scene import Scene
from rtecho.synth.shapes import Placement, paint

ndimage = require("scipy.ndimage", "synth", "the echo simulator")


@dataclass(frozen=True)
class Acquisition:
    """Everything about one acquisition that is not anatomy: geometry, beam settings, nuisances."""

    geom: FanGeometry
    params: BeamParams
    place: Placement
    clutter: float
    chest_wall_cm: float
    ribs: tuple[tuple[float, float, float], ...]
    texture_seed: int
    jpeg_quality: int | None
    warp: tuple[tuple[float, float, float, float], ...] = ()
    bg_gain: float = 1.0
    haze: float = 0.0
    soften_cm: float = 0.0
    spec_gain: float = 1.0
    post_blur_px: float = 0.0


def _u(rng: np.random.Generator, r: tuple[float, float]) -> float:
    return float(rng.uniform(r[0], r[1]))


def draw_acquisition(
    rng: np.random.Generator, cfg: SynthConfig, scene: Scene, size_hw: tuple[int, int]
) -> Acquisition:
    """Randomise depth, sector, zoom, position/rotation/scale of the heart, gain, TGC, noise, ribs, JPEG."""
    h, w = size_hw
    scale = _u(rng, cfg.heart_scale)
    rot = math.radians(float(rng.uniform(-1, 1)) * cfg.heart_rot_deg)
    pivot_z = 0.55 * scene.z_extent
    place = Placement(
        rot=rot,
        tx=float(rng.uniform(-1, 1)) * cfg.heart_shift_cm,
        tz=float(rng.uniform(-0.6, 0.6)) * cfg.heart_shift_cm,
        scale=scale,
        pivot_x=0.0,
        pivot_z=pivot_z,
    )
    depth = float(
        np.clip(pivot_z + (scene.z_extent - pivot_z) * scale + _u(rng, cfg.depth_margin_cm), 6.0, 26.0)
    )
    sector = _u(rng, cfg.sector_deg)
    skew = float(rng.uniform(-3, 3))
    radius = _u(rng, cfg.radius_frac) * h
    apex = (w * (0.5 + float(rng.uniform(-1, 1)) * cfg.apex_x_jitter_frac), _u(rng, cfg.apex_y_frac) * h)
    geom = FanGeometry((h, w), apex, radius, -sector / 2 + skew, sector / 2 + skew, depth)
    s = _u(rng, cfg.speckle_scale)
    params = BeamParams(
        sigma_ax=1.1 * s,
        sigma_lat=float(rng.uniform(0.7, 1.1)) * s,
        focus_frac=float(rng.uniform(0.35, 0.7)),
        rayleigh_frac=float(rng.uniform(0.25, 0.5)),
        tgc_comp=float(rng.uniform(0.88, 1.02)),
        tgc_knots_db=tuple(float(v) for v in rng.normal(0, cfg.tgc_jitter_db / 2, 8)),
        noise_db=_u(rng, cfg.noise_db),
        dynamic_range_db=_u(rng, cfg.dynamic_range_db),
        gain_db=_u(rng, cfg.gain_db),
    )
    ribs: list[tuple[float, float, float]] = []
    if rng.random() < cfg.rib_shadow_prob:
        for _ in range(int(rng.integers(1, 3))):
            side = geom.angle_start_deg if rng.random() < 0.5 else geom.angle_end_deg
            ribs.append(
                (side * float(rng.uniform(0.4, 1.0)), float(rng.uniform(5, 15)), float(rng.uniform(8, 25)))
            )
    jpeg = int(rng.uniform(*cfg.jpeg_quality)) if rng.random() < cfg.jpeg_prob else None
    warp = []  # smooth domain warp: irregular, patient-like boundaries instead of perfect ellipses
    warp_amp = _u(rng, cfg.warp_cm)
    for _ in range(6):
        k = 2 * math.pi / float(rng.uniform(2.5, 7.0))
        ang = float(rng.uniform(0, 2 * math.pi))
        warp.append(
            (
                k * math.cos(ang),
                k * math.sin(ang),
                float(rng.uniform(0, 2 * math.pi)),
                warp_amp * float(rng.uniform(0.4, 1.0)),
            )
        )
    return Acquisition(
        geom=geom,
        params=params,
        place=place,
        clutter=_u(rng, cfg.clutter) * scene.clutter,
        chest_wall_cm=float(rng.uniform(0.8, 1.8)),
        ribs=tuple(ribs),
        texture_seed=int(rng.integers(2**62)),
        jpeg_quality=jpeg,
        warp=tuple(warp),
        bg_gain=_u(rng, cfg.background_gain),
        haze=_u(rng, cfg.haze),
        soften_cm=_u(rng, cfg.soften_cm),
        spec_gain=_u(rng, cfg.spec_gain),
        post_blur_px=_u(rng, cfg.post_blur_px) * h / 128.0,
    )


@lru_cache(maxsize=256)
def _interp_matrix(n_out: int, n_in: int) -> np.ndarray:
    """(n_out, n_in) linear interpolation weights, cell centres aligned (edges clamped)."""
    pos = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    i0 = np.floor(pos).astype(np.int64)
    i1 = np.minimum(i0 + 1, n_in - 1)
    f = (pos - i0).astype(np.float32)
    m = np.zeros((n_out, n_in), np.float32)
    np.add.at(m, (np.arange(n_out), i0), 1 - f)
    np.add.at(m, (np.arange(n_out), i1), f)
    return m


def _lowfreq(rng: np.random.Generator, shape: tuple[int, int], cells: tuple[int, int]) -> np.ndarray:
    coarse = rng.standard_normal(cells).astype(np.float32)
    return _interp_matrix(shape[0], cells[0]) @ coarse @ _interp_matrix(shape[1], cells[1]).T


@dataclass(frozen=True)
class AcqMaps:
    """Per-acquisition maps on the beam grid (constant over a cine)."""

    background: np.ndarray
    clutter: np.ndarray
    gain: np.ndarray
    atten_db: np.ndarray | None
    haze: np.ndarray | None = None


def acquisition_maps(acq: Acquisition, grid: BeamGrid, background: float) -> AcqMaps:
    """Tissue texture around the heart, near-field clutter/reverberation, lateral gain, rib attenuation."""
    rng = np.random.default_rng(acq.texture_seed)
    shape = grid.shape
    bg = background * acq.bg_gain * np.exp(0.45 * _lowfreq(rng, shape, (6, 10)))
    r = grid.r[None, :].astype(np.float32)
    cw = acq.chest_wall_cm
    near = np.exp(-r / (0.6 * cw)) * (1.0 + 0.5 * _lowfreq(rng, shape, (10, 4)))
    reverb = sum(0.6**k * np.exp(-(((r - k * cw) / 0.35) ** 2)) for k in range(1, 4))
    clutter = (acq.clutter * (1.2 * near + 0.25 * reverb)).astype(np.float32)
    # haze: diffuse acoustic clutter over the whole fan (fills blood pools), stronger in the near field
    depth = float(grid.r[-1])
    lf = _lowfreq(rng, shape, (5, 3))
    haze = acq.haze * np.exp(-0.6 * lf) * (1.0 + np.exp(-r / (0.2 * depth)))
    gain = np.exp(0.18 * lf).astype(np.float32)
    atten = None
    if acq.ribs:
        th = np.degrees(grid.theta)[:, None]
        atten = np.zeros(shape, np.float32)
        in_rib = (r > cw * 0.4) & (r < cw * 0.4 + 1.2)
        for centre, width, db_cm in acq.ribs:
            band = np.clip(1.5 - np.abs(th - centre) / (0.5 * width) * 1.5 + 0.5, 0, 1)
            atten += (db_cm * band * in_rib).astype(np.float32)
    return AcqMaps(bg.astype(np.float32), clutter, gain, atten, haze.astype(np.float32))


def to_scene(acq: Acquisition, x: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sector cm -> scene cm: undo the heart placement, then apply the smooth domain warp."""
    gx, gz = acq.place.to_local(x, z)
    if not acq.warp:
        return gx, gz
    wx = np.zeros_like(gx)
    wz = np.zeros_like(gz)
    for i, (kx, kz, ph, amp) in enumerate(acq.warp):
        wave = amp * np.sin(kx * gx + kz * gz + ph)
        if i % 2:
            wz += wave
        else:
            wx += wave
    return gx + wx, gz + wz


def from_scene(acq: Acquisition, sx: float, sz: float) -> tuple[float, float]:
    """Scene cm -> sector cm for one point (inverse of :func:`to_scene`, by fixed-point iteration)."""
    c, s = math.cos(acq.place.rot), math.sin(acq.place.rot)
    p = acq.place

    def fwd(lx: float, lz: float) -> tuple[float, float]:
        ux, uz = (lx - p.pivot_x) * p.scale, (lz - p.pivot_z) * p.scale
        return ux * c - uz * s + p.pivot_x + p.tx, ux * s + uz * c + p.pivot_z + p.tz

    gx, gz = sx, sz
    for _ in range(8):
        x, z = fwd(gx, gz)
        wx, wz = to_scene(acq, np.array([x]), np.array([z]))
        gx, gz = gx + (sx - float(wx[0])), gz + (sz - float(wz[0]))
    return fwd(gx, gz)


def echo_maps(scene: Scene, acq: Acquisition, grid: BeamGrid, maps: AcqMaps) -> tuple[np.ndarray, np.ndarray]:
    """Diffuse (E) and specular (S) amplitude maps of ``scene`` on the beam grid."""
    gx, gz = to_scene(acq, grid.x, grid.z)
    gbx, gbz = acq.place.dir_to_local(grid.bx, grid.bz)
    E, S = paint(scene.groups, gx, gz, gbx, gbz, maps.background, scale=acq.place.scale)
    if acq.soften_cm > 0:  # soft, blurry tissue boundaries instead of crisp geometric edges
        E = soften(E, grid, acq.soften_cm)  # specular lines stay thin, as on real scans
    E = E + maps.clutter
    if maps.haze is not None:
        E = np.sqrt(E * E + maps.haze * maps.haze)
    return E * maps.gain, S * (maps.gain * acq.spec_gain)


def soften(m: np.ndarray, grid: BeamGrid, sigma_cm: float) -> np.ndarray:
    """Gaussian blur of a beam-grid map by about ``sigma_cm`` (lateral width taken at mid depth)."""
    depth = float(grid.r[-1] + grid.r[0])
    dr = depth / grid.n_samples
    dth = float(grid.theta[1] - grid.theta[0]) if len(grid.theta) > 1 else 1.0
    sig_ax = sigma_cm / dr
    sig_lat = sigma_cm / max(0.5 * depth * dth, 1e-6)
    return ndimage.gaussian_filter(m, (min(sig_lat, 8.0), sig_ax), mode="nearest", truncate=2.5)


def finish(image: np.ndarray, acq: Acquisition) -> np.ndarray:
    """Display-side resolution loss (blur) and JPEG artefacts of one scan-converted frame."""
    if acq.post_blur_px > 0.15:
        image = ndimage.gaussian_filter(image.astype(np.float32), acq.post_blur_px, truncate=2.5)
        image = np.clip(image + 0.5, 0, 255).astype(np.uint8)
    if acq.jpeg_quality is not None:
        image = jpeg_roundtrip(image, acq.jpeg_quality)
    return image


def simulate(
    scene: Scene,
    acq: Acquisition,
    rng: np.random.Generator,
    maps: AcqMaps | None = None,
    scat: np.ndarray | None = None,
) -> tuple[np.ndarray, BeamStages]:
    """Render ``scene`` under ``acq``: returns the HxW uint8 image and the beam-space stages."""
    grid = beam_grid(acq.geom)
    if maps is None:
        maps = acquisition_maps(acq, grid, scene.background)
    E, S = echo_maps(scene, acq, grid, maps)
    stages = beamform(E, S, grid, acq.params, rng, scat=scat, extra_atten_db=maps.atten_db)
    return scan_convert(stages.polar, grid, acq.geom), stages


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """JPEG-compress and decode ``image`` (compression artefacts as in exported stills)."""
    Image = require("PIL.Image", "synth", "JPEG artefacts")
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    return np.asarray(Image.open(buf))


def render_stages(
    view: str,
    rng: np.random.Generator,
    size_hw: tuple[int, int] | None = None,
    config: SynthConfig | None = None,
    phase: float | None = None,
) -> tuple[np.ndarray, BeamStages, Acquisition, Scene]:
    """Like :func:`render_view`, also returning the beam stages, the acquisition and the scene."""
    check_view(view)
    cfg = config or SynthConfig()
    size = check_size(size_hw if size_hw is not None else cfg.size_hw)
    patient = random_patient(rng)
    state = cycle_state(patient, float(rng.random()) if phase is None else phase)
    scene = build_scene(view, patient, state, int(rng.integers(2**62)))
    acq = draw_acquisition(rng, cfg, scene, size)
    image, stages = simulate(scene, acq, rng)
    return finish(image, acq), stages, acq, scene


def render_view(
    view: str,
    rng: np.random.Generator,
    size_hw: tuple[int, int] | None = None,
    config: SynthConfig | None = None,
) -> np.ndarray:
    """Render one randomised B-mode still of ``view`` (a VIEWS.md label) as HxW uint8 gray.

    ``size_hw`` defaults to ``config.size_hw`` (128x128). With probability ``config.screen_prob`` the still
    is framed like an exported screen (wider canvas, margins, text, ECG) and resized to ``size_hw``.

    >>> import numpy as np
    >>> img = render_view("A4C", np.random.default_rng(0), size_hw=(64, 64))
    >>> img.shape, img.dtype
    ((64, 64), dtype('uint8'))
    """
    cfg = config or SynthConfig()
    if cfg.screen_prob > 0 and rng.random() < cfg.screen_prob:
        return _framed_still(view, rng, check_size(size_hw if size_hw is not None else cfg.size_hw), cfg)
    return render_stages(view, rng, size_hw, cfg)[0]


def _resize(image: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    Image = require("PIL.Image", "synth", "resizing stills")
    return np.asarray(Image.fromarray(image).resize((size_hw[1], size_hw[0]), Image.BILINEAR))


def _framed_still(
    view: str, rng: np.random.Generator, size: tuple[int, int], cfg: SynthConfig, stages=None
) -> np.ndarray:
    """A still framed like an exported scanner screen: a wider canvas (black margins around the fan, text,
    depth ticks, ECG) resized to ``size`` as the runtime resizes a whole frame.

    ``stages`` renders the fan (default :func:`render_stages`; simulator v2 passes its own)."""
    from dataclasses import replace

    from rtecho.synth.screen import ScreenTruth, draw_furniture

    h, w = size
    cw = max(16, int(round(w * _u(rng, cfg.screen_aspect))))
    ch = max(16, int(round(h * float(rng.uniform(1.0, 1.12)))))
    shrink = min(1.0, math.sqrt(1.2 * h * w / (ch * cw)))  # keep the cost near that of a bare still
    ch, cw = max(16, int(round(ch * shrink))), max(16, int(round(cw * shrink)))
    scfg = replace(
        cfg, radius_frac=(0.8, 1.0), apex_y_frac=(-0.02, 0.08), apex_x_jitter_frac=0.06, screen_prob=0.0
    )
    image, _, acq, _ = (stages or render_stages)(view, rng, (ch, cw), scfg)
    if cfg.furniture and rng.random() < 0.7:
        k = 560.0 / cw  # draw furniture on a ~560-wide layer, so text is as small as on a real screen
        lh, lw = int(round(ch * k)), 560
        g = acq.geom
        t = ScreenTruth(
            "bmode",
            view,
            (lh, lw),
            (g.apex_xy[0] * k, g.apex_xy[1] * k),
            g.radius_px * k,
            g.angle_start_deg,
            g.angle_end_deg,
            g.depth_cm,
        )
        layer = draw_furniture(np.zeros((lh, lw, 3), np.uint8), t, rng, float(rng.uniform(50, 110)))
        layer = _resize(np.maximum(np.maximum(layer[..., 0], layer[..., 1]), layer[..., 2]), (ch, cw))
        image = np.maximum(image, layer)
    return _resize(image, size)
