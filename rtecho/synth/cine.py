"""Cine loops: cardiac cycle, moving/decorrelating speckle, per-frame LV cavity masks, ED/ES, EF.

Speckle motion: a scatterer field is drawn once per loop; each frame samples it at the *material*
position of every beam-grid point, ``p0 = c + (p - c) / s(t)`` near the LV centre ``c`` (``s`` the
current LV size over its end-diastolic size, fading with distance), and decorrelates it by
``c_t = sqrt(1 - rho^2) c_warp + rho n_t`` (fresh ``n_t`` every frame; ``rho`` grows with the frame
interval). Blood (low echogenicity) gets fresh scatterers every frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from rtecho.synth.anatomy import cycle_state, random_patient
from rtecho.synth.config import SynthConfig, SynthError, check_ef, check_size, check_view
from rtecho.synth.layouts import build_scene
from rtecho.synth.physics import (
    FanGeometry,
    beam_grid,
    beamform,
    fan_mask,
    pixel_to_cm,
    scan_convert,
    scatterers,
)
from rtecho.synth.render import (
    Acquisition,
    acquisition_maps,
    draw_acquisition,
    echo_maps,
    finish,
    from_scene,
    to_scene,
)
from rtecho.synth.scene import Scene


@dataclass(frozen=True, eq=False)
class Cine:
    """A rendered loop with its ground truth.

    ``frames`` (N, H, W) uint8; ``lv_masks`` (N, H, W) bool LV cavity; ``ed_index``/``es_index`` the frames of
    largest/smallest true LV volume within the first beat of the loop (a loop shorter than a beat starts
    just before ED); ``edv``/``esv`` (ml) and ``ef`` (percent) the truth the loop was built
    from; ``volumes`` (N,) true LV volume per frame; ``lv_apex_xy``/``lv_base_xy`` (N, 2) pixel landmarks
    (NaN where the view has no LV long axis).
    """

    frames: np.ndarray
    lv_masks: np.ndarray
    ed_index: int
    es_index: int
    edv: float
    esv: float
    ef: float
    fps: float
    heart_rate: float
    view: str
    geometry: FanGeometry
    volumes: np.ndarray
    lv_apex_xy: np.ndarray
    lv_base_xy: np.ndarray

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])


def lv_mask(
    scene: Scene, acq: Acquisition, px_x: np.ndarray, px_z: np.ndarray, fan: np.ndarray
) -> np.ndarray:
    """Boolean mask of the LV cavity of ``scene`` on the output pixels (inside the fan)."""
    if scene.lv is None:
        return np.zeros(fan.shape, bool)
    shape, place = scene.lv
    sx, sz = to_scene(acq, px_x, px_z)
    lx, lz = place.to_local(sx, sz)
    d, _, _ = shape.sdf(lx, lz)
    return (d < 0) & fan


def _landmark(acq: Acquisition, scene: Scene, pt: tuple[float, float] | None) -> tuple[float, float]:
    if pt is None or scene.lv is None:
        return (math.nan, math.nan)
    _, place = scene.lv
    c, s = math.cos(place.rot), math.sin(place.rot)
    ux, uz = (pt[0] - place.pivot_x) * place.scale, (pt[1] - place.pivot_z) * place.scale
    sx, sz = ux * c - uz * s + place.pivot_x + place.tx, ux * s + uz * c + place.pivot_z + place.tz
    x, z = from_scene(acq, sx, sz)
    g = acq.geom
    return (x * g.px_per_cm + g.apex_xy[0] - 0.5, z * g.px_per_cm + g.apex_xy[1] - 0.5)


def _check_cine_args(n_frames: int, fps: float, heart_rate: float | None) -> None:
    if int(n_frames) < 1 or int(n_frames) > 10000:
        raise SynthError(f"n_frames must be between 1 and 10000, got {n_frames}")
    if not (math.isfinite(fps) and 1.0 <= fps <= 1000.0):
        raise SynthError(f"fps must be between 1 and 1000, got {fps}")
    if heart_rate is not None and not (20.0 <= heart_rate <= 250.0):
        raise SynthError(f"heart_rate must be between 20 and 250 beats/min, got {heart_rate}")


def render_cine(
    view: str,
    rng: np.random.Generator,
    n_frames: int = 32,
    fps: float = 50.0,
    ef: float | None = None,
    heart_rate: float | None = None,
    size_hw: tuple[int, int] = (112, 112),
    config: SynthConfig | None = None,
    masks_only: bool = False,
) -> Cine:
    """Render a cine loop of ``view`` with LV masks and ED/ES truth; ``ef`` in percent (5-90).

    ``masks_only`` skips image formation (frames are zeros): fast ground truth for tests.

    >>> import numpy as np
    >>> c = render_cine("A4C", np.random.default_rng(0), n_frames=4, fps=30, ef=55, size_hw=(64, 64))
    >>> c.frames.shape, c.lv_masks.dtype, round(c.ef)
    ((4, 64, 64), dtype('bool'), 55)
    """
    check_view(view)
    size = check_size(size_hw)
    _check_cine_args(n_frames, fps, heart_rate)
    if ef is not None:
        check_ef(ef)
    # loops show the whole fan (EchoNet-like), so the LV is never cut by the image border
    cfg = config or SynthConfig(
        size_hw=size,
        radius_frac=(0.85, 0.98),
        apex_y_frac=(0.0, 0.02),
        heart_shift_cm=0.3,
        heart_rot_deg=6.0,
        sector_deg=(70.0, 90.0),
    )
    if cfg.jpeg_prob > 0 and not masks_only:
        cfg = replace(cfg, jpeg_prob=cfg.jpeg_prob * 0.5)
    patient = random_patient(rng, None if ef is None else ef / 100.0, heart_rate)
    layout_seed = int(rng.integers(2**62))
    phase0 = float(rng.random())
    if n_frames / fps < 60.0 / patient.heart_rate:  # shorter than a beat: start just before ED to catch ES
        phase0 = float(rng.uniform(0.85, 1.0))
    scene0 = build_scene(view, patient, cycle_state(patient, 0.0), layout_seed)
    acq = draw_acquisition(rng, cfg, scene0, size)
    acq = replace(acq, warp=tuple((kx, kz, ph, 0.2 * a) for kx, kz, ph, a in acq.warp))
    geom = acq.geom
    grid = beam_grid(geom)
    maps = acquisition_maps(acq, grid, scene0.background)
    fan = fan_mask(geom)
    px_x, px_z = pixel_to_cm(geom)
    n = int(n_frames)
    frames = np.zeros((n, *size), np.uint8)
    masks = np.zeros((n, *size), bool)
    volumes = np.zeros(n)
    apex = np.full((n, 2), np.nan)
    base = np.full((n, 2), np.nan)
    dt = 1.0 / fps
    rho = float(np.clip(0.35 * math.sqrt(50.0 * dt), 0.05, 1.0))
    base_scat = scatterers(grid.shape, rng)
    flat_scat = base_scat.reshape(-1)
    ref = None
    lv_c = None
    wgt = None
    if scene0.lv is not None:
        shp, _ = scene0.lv
        lv_c = _landmark(acq, scene0, (shp.cx, shp.cz))
        lv_c = (
            (lv_c[0] + 0.5 - geom.apex_xy[0]) / geom.px_per_cm,
            (lv_c[1] + 0.5 - geom.apex_xy[1]) / geom.px_per_cm,
        )
        wgt = np.exp(-((grid.x - lv_c[0]) ** 2 + (grid.z - lv_c[1]) ** 2) / (2 * 4.0**2))
    dth = grid.theta[1] - grid.theta[0]
    dr = grid.r[1] - grid.r[0]
    for i in range(n):
        phase = (phase0 + i * dt * patient.heart_rate / 60.0) % 1.0
        state = cycle_state(patient, phase)
        scene = build_scene(view, patient, state, layout_seed)
        volumes[i] = state.lv_volume
        masks[i] = lv_mask(scene, acq, px_x, px_z, fan)
        apex[i] = _landmark(acq, scene, scene.lv_apex)
        base[i] = _landmark(acq, scene, scene.lv_base)
        if masks_only:
            continue
        E, S = echo_maps(scene, acq, grid, maps)
        if lv_c is not None:  # material coordinates: contraction about the LV centre, fading outwards
            k = state.lv_a / patient.lv_a
            f = 1 + (1 / k - 1) * wgt
            mx, mz = lv_c[0] + (grid.x - lv_c[0]) * f, lv_c[1] + (grid.z - lv_c[1]) * f
            li = np.clip(np.rint((np.arctan2(mx, mz) - grid.theta[0]) / dth), 0, grid.shape[0] - 1)
            si = np.clip(np.rint((np.hypot(mx, mz) - grid.r[0]) / dr), 0, grid.shape[1] - 1)
            warped = flat_scat[(li * grid.shape[1] + si).astype(np.int64)]
        else:
            warped = base_scat
        fresh = scatterers(grid.shape, rng)
        scat = np.sqrt(1 - rho * rho) * warped + rho * fresh
        scat = np.where(E < 0.12, fresh, scat).astype(np.complex64)
        stages = beamform(E, S, grid, acq.params, rng, scat=scat, extra_atten_db=maps.atten_db, ref=ref)
        if ref is None:
            ref = float(np.percentile(stages.envelope[::3, ::3], 99.5)) + 1e-9
        img = scan_convert(stages.polar, grid, geom)
        frames[i] = finish(img, acq)
    cycle = max(1, min(n, int(round(fps * 60.0 / patient.heart_rate))))
    ed = int(np.argmax(volumes[:cycle]))
    es = int(np.argmin(volumes[:cycle]))
    return Cine(
        frames=frames,
        lv_masks=masks,
        ed_index=ed,
        es_index=es,
        edv=patient.edv,
        esv=patient.esv,
        ef=100.0 * patient.ef,
        fps=float(fps),
        heart_rate=patient.heart_rate,
        view=view,
        geometry=geom,
        volumes=volumes,
        lv_apex_xy=apex,
        lv_base_xy=base,
    )
