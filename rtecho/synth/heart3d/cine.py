"""Simulator v2 cine loops: one probe pose of a view held over the beating 3-D heart, with LV masks.

Same :class:`rtecho.synth.cine.Cine` as the 2-D simulator (frames, LV masks, ED/ES, true EF/EDV/ESV,
apex and base landmarks). The LV mask is the 3-D LV cavity cut by the imaging plane; speckle of tissue
persists and decorrelates from frame to frame (``c_t = sqrt(1 - rho^2) c_0 + rho n_t``), blood speckle is
new every frame. Landmarks are NaN when the plane misses the LV long axis (not an apical view).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from rtecho.synth.cine import Cine, _check_cine_args
from rtecho.synth.config import SynthConfig, check_ef, check_size, check_view
from rtecho.synth.heart3d.anatomy import heart_at, random_subject
from rtecho.synth.heart3d.poses import Pose, label_pose, nominal_poses, sample_other_pose, sample_view_pose
from rtecho.synth.heart3d.render import Shot, draw_v2_acquisition, lv_mask_image, render_pose
from rtecho.synth.physics import beam_grid, scatterers
from rtecho.synth.render import Acquisition, finish, from_scene


def _landmark(acq: Acquisition, pose: Pose, p: np.ndarray) -> tuple[float, float]:
    v = p - pose.origin
    if abs(float(v @ pose.normal)) > 1.0:
        return (math.nan, math.nan)
    x, z = from_scene(acq, float(v @ pose.lat), float(v @ pose.dep))
    g = acq.geom
    return (x * g.px_per_cm + g.apex_xy[0] - 0.5, z * g.px_per_cm + g.apex_xy[1] - 0.5)


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
    """A loop of ``view`` (a VIEWS.md label) over the beating 3-D heart; ``ef`` in percent (5-90).

    >>> import numpy as np
    >>> c = render_cine("A4C", np.random.default_rng(0), n_frames=4, fps=30, ef=55, size_hw=(64, 64))
    >>> c.frames.shape, bool(c.lv_masks.any()), round(c.ef)
    ((4, 64, 64), True, 55)
    """
    check_view(view)
    size = check_size(size_hw)
    _check_cine_args(n_frames, fps, heart_rate)
    if ef is not None:
        check_ef(ef)
    cfg = config or SynthConfig(
        size_hw=size, radius_frac=(0.85, 0.98), apex_y_frac=(0.0, 0.02), sector_deg=(70.0, 90.0)
    )
    if cfg.jpeg_prob > 0 and not masks_only:
        cfg = replace(cfg, jpeg_prob=cfg.jpeg_prob * 0.5)
    subj = random_subject(rng, None if ef is None else ef / 100.0, heart_rate)
    p = subj.patient
    ed = heart_at(subj, 0.0)
    nominal = nominal_poses(ed)
    if view == "OTHER":
        pose = sample_other_pose(nominal, ed.marks["heart_c"], rng)
    else:
        pose = sample_view_pose(view, nominal, rng, 0.6)
    label, dist = label_pose(pose, nominal)
    phase0 = float(rng.random())
    if n_frames / fps < 60.0 / p.heart_rate:  # shorter than a beat: start just before ED to catch ES
        phase0 = float(rng.uniform(0.85, 1.0))
    acq = draw_v2_acquisition(rng, cfg, pose.extent, size)
    acq = replace(acq, warp=tuple((kx, kz, ph, 0.2 * a) for kx, kz, ph, a in acq.warp))
    grid = beam_grid(acq.geom)
    n = int(n_frames)
    frames = np.zeros((n, *size), np.uint8)
    masks = np.zeros((n, *size), bool)
    volumes = np.zeros(n)
    apex = np.full((n, 2), np.nan)
    base = np.full((n, 2), np.nan)
    rho = float(np.clip(0.35 * math.sqrt(50.0 / fps), 0.05, 1.0))
    base_scat = scatterers(grid.shape, rng)
    ref = None
    for i in range(n):
        heart = heart_at(subj, (phase0 + i / fps * p.heart_rate / 60.0) % 1.0)
        volumes[i] = heart.state.lv_volume
        masks[i] = lv_mask_image(Shot(label, dist, pose, heart), acq)
        apex[i] = _landmark(acq, pose, heart.marks["apex"])
        base[i] = _landmark(acq, pose, heart.marks["base"])
        if masks_only:
            continue
        scat = (math.sqrt(1 - rho * rho) * base_scat + rho * scatterers(grid.shape, rng)).astype(np.complex64)
        img, stages = render_pose(heart, pose, rng, acq, scat=scat, ref=ref)
        if ref is None:
            ref = float(np.percentile(stages.envelope[::3, ::3], 99.5)) + 1e-9
        frames[i] = finish(img, acq)
    cycle = max(1, min(n, int(round(fps * 60.0 / p.heart_rate))))
    return Cine(
        frames=frames,
        lv_masks=masks,
        ed_index=int(np.argmax(volumes[:cycle])),
        es_index=int(np.argmin(volumes[:cycle])),
        edv=p.edv,
        esv=p.esv,
        ef=100.0 * p.ef,
        fps=float(fps),
        heart_rate=p.heart_rate,
        view=view,
        geometry=acq.geom,
        volumes=volumes,
        lv_apex_xy=apex,
        lv_base_xy=base,
    )
