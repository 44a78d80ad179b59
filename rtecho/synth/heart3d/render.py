"""Simulator v2 stills: a subject's 3-D heart, a probe pose of the view, the physics of :mod:`rtecho.synth`.

``render_view(view, rng, size_hw, config)`` has the signature and output of the 2-D simulator's
:func:`rtecho.synth.render.render_view`, so that datasets and training can switch between the two.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from rtecho.synth.config import SynthConfig, check_size, check_view
from rtecho.synth.heart3d.anatomy import Heart, Subject, heart_at, random_subject
from rtecho.synth.heart3d.poses import Pose, label_pose, nominal_poses, sample_other_pose, sample_view_pose
from rtecho.synth.heart3d.slicing import lv_mask, random_style, slice_maps
from rtecho.synth.physics import (
    BeamStages,
    beam_grid,
    beamform,
    fan_mask,
    pixel_to_cm,
    scan_convert,
    scatterers,
)
from rtecho.synth.render import (
    Acquisition,
    _framed_still,
    _lowfreq,
    acquisition_maps,
    draw_acquisition,
    finish,
    simulate,
    soften,
    to_scene,
)
from rtecho.synth.scene import PERICARDIUM, Scene, specular
from rtecho.synth.shapes import Arc, Placement

BACKGROUND = 0.13


@dataclass(frozen=True)
class Shot:
    """What one v2 still shows: the pose, its true label and distance to that view, the heart, the kind."""

    label: str
    distance: float
    pose: Pose | None
    heart: Heart | None
    kind: str = "heart"


def draw_v2_acquisition(
    rng: np.random.Generator, cfg: SynthConfig, extent: float, size_hw: tuple[int, int]
) -> Acquisition:
    """The 2-D simulator's acquisition nuisances (depth for ``extent``, fan, gain, TGC, ribs, JPEG, warp);
    the anatomy's placement is the probe pose, so the 2-D heart placement is dropped."""
    if rng.random() < 0.35:  # zoomed in: the far structures (atria, LA) are cut by the arc
        extent *= float(rng.uniform(0.68, 0.95))
    acq = draw_acquisition(rng, cfg, Scene(groups=[], z_extent=extent, background=BACKGROUND), size_hw)
    return replace(acq, place=Placement())


def render_pose(
    heart: Heart,
    pose: Pose,
    rng: np.random.Generator,
    acq: Acquisition,
    scat: np.ndarray | None = None,
    ref: float | None = None,
) -> tuple[np.ndarray, BeamStages]:
    """Slice ``heart`` with ``pose`` and form the image under ``acq`` (HxW uint8 before display finish)."""
    grid = beam_grid(acq.geom)
    maps = acquisition_maps(acq, grid, BACKGROUND)
    trng = np.random.default_rng(acq.texture_seed + 1)
    style = random_style(trng)
    cells = (max(8, grid.shape[0] // 5), max(8, grid.shape[1] // 6))
    lf = _lowfreq(trng, grid.shape, cells) + 0.6 * _lowfreq(trng, grid.shape, (4, 6))
    tex = np.exp(style.texture * lf)
    gx, gz = to_scene(acq, grid.x, grid.z)
    pad = 0.3 + 1.42 * max(sum(abs(w[3]) for w in acq.warp[0::2]), sum(abs(w[3]) for w in acq.warp[1::2]))
    bg = maps.background * np.float32(style.background)
    E, S = slice_maps(heart, pose, gx, gz, grid.theta, grid.r, bg, style, tex, pad)
    if acq.soften_cm > 0:
        E = soften(E, grid, acq.soften_cm)
    E = E + maps.clutter
    if maps.haze is not None:
        hz = maps.haze * np.float32(style.haze)
        E = np.sqrt(E * E + hz * hz)
    gain = maps.gain
    if style.edge_fade > 0:  # weaker transmit/receive at the sector edges
        th = np.abs(grid.theta - 0.5 * (grid.theta[0] + grid.theta[-1]))
        fade = 1.0 - style.edge_fade * (th / max(float(th.max()), 1e-6)) ** 4
        gain = gain * fade.astype(np.float32)[:, None]
    E, S = E * gain, S * (gain * acq.spec_gain)
    if scat is not None:  # cines: tissue speckle persists, blood speckle is new every frame
        scat = np.where(E < 0.12, scatterers(E.shape, rng), scat).astype(np.complex64)
    stages = beamform(E, S, grid, acq.params, rng, scat=scat, extra_atten_db=maps.atten_db, ref=ref)
    return scan_convert(stages.polar, grid, acq.geom), stages


def _noncardiac_scene(rng: np.random.Generator) -> Scene:
    """Lung (pleural line, A-lines) or an almost blank fan (probe in air): OTHER without a heart."""
    if rng.random() < 0.5:
        zp = float(rng.uniform(1.5, 3.0))
        layers = [
            specular(Arc(0.0, 0.0, zp * i, 30, 150, 0.1), PERICARDIUM * 0.8 / i, width=0.15, aniso=0.2)
            for i in range(1, 5)
        ]
        return Scene(groups=[(layers, Placement())], background=float(rng.uniform(0.03, 0.15)), clutter=1.5)
    return Scene(groups=[], background=float(rng.uniform(0.0, 0.05)), clutter=float(rng.uniform(0, 2.0)))


def _liver_pose(heart: Heart, nominal: dict[str, Pose], rng: np.random.Generator) -> Pose:
    X, Y, Z = heart.subject.body
    liv = heart.marks["liver"]
    tgt = liv + rng.normal(0, 2.0, 3) - 2.0 * Z
    d = -0.8 * Y + float(rng.uniform(-0.5, 0.5)) * Z + float(rng.uniform(-0.6, 0.6)) * X
    from rtecho.synth.heart3d.poses import make_pose

    return make_pose(tgt, d, X + rng.normal(0, 0.3, 3), 7.0, float(rng.uniform(13, 18)))


def choose_shot(
    view: str, rng: np.random.Generator, subject: Subject | None = None, phase: float | None = None
) -> Shot:
    """A subject (or ``subject``), a phase and a probe pose of ``view`` (OTHER: off-axis, liver, lung, blank)."""
    subj = subject or random_subject(rng)
    ph = float(rng.random()) if phase is None else phase
    heart = heart_at(subj, ph)
    ed = heart  # a still needs one phase: its own landmarks place the view's probe (cines/sweeps use ED)
    nominal = nominal_poses(ed)
    if view != "OTHER":
        pose = sample_view_pose(view, nominal, rng)
        lab, dist = label_pose(pose, nominal)
        return Shot(lab, dist, pose, heart)
    k = rng.random()
    if k < 0.72:
        pose = sample_other_pose(nominal, ed.marks["heart_c"], rng)
        return Shot("OTHER", label_pose(pose, nominal)[1], pose, heart, "offaxis")
    if k < 0.86:
        pose = _liver_pose(ed, nominal, rng)
        return Shot("OTHER", label_pose(pose, nominal)[1], pose, heart, "liver")
    return Shot("OTHER", float("inf"), None, None, "noncardiac")


def render_stages(
    view: str,
    rng: np.random.Generator,
    size_hw: tuple[int, int] | None = None,
    config: SynthConfig | None = None,
    phase: float | None = None,
) -> tuple[np.ndarray, BeamStages, Acquisition, Shot]:
    """Like :func:`render_view` (bare fan), also returning the beam stages, the acquisition and the shot."""
    check_view(view)
    cfg = config or SynthConfig()
    size = check_size(size_hw if size_hw is not None else cfg.size_hw)
    shot = choose_shot(view, rng, phase=phase)
    if shot.pose is None:
        scene = _noncardiac_scene(rng)
        acq = draw_v2_acquisition(rng, cfg, float(rng.uniform(12, 18)), size)
        image, stages = simulate(scene, acq, rng)
        return finish(image, acq), stages, acq, shot
    acq = draw_v2_acquisition(rng, cfg, shot.pose.extent, size)
    image, stages = render_pose(shot.heart, shot.pose, rng, acq)
    return finish(image, acq), stages, acq, shot


def render_view(
    view: str,
    rng: np.random.Generator,
    size_hw: tuple[int, int] | None = None,
    config: SynthConfig | None = None,
) -> np.ndarray:
    """One randomised simulator-v2 B-mode still of ``view`` (a VIEWS.md label) as HxW uint8 gray.

    Same contract as the 2-D simulator's ``render_view`` (framed like a scanner screen with probability
    ``config.screen_prob``).

    >>> import numpy as np
    >>> render_view("A4C", np.random.default_rng(0), size_hw=(64, 64)).shape
    (64, 64)
    """
    cfg = config or SynthConfig()
    size = check_size(size_hw if size_hw is not None else cfg.size_hw)
    check_view(view)
    if cfg.screen_prob > 0 and rng.random() < cfg.screen_prob:
        return _framed_still(view, rng, size, cfg, stages=render_stages)
    return render_stages(view, rng, size, cfg)[0]


def lv_mask_image(shot: Shot, acq: Acquisition) -> np.ndarray:
    """HxW boolean mask of the 3-D LV cavity in the output image of ``shot`` under ``acq``."""
    fan = fan_mask(acq.geom)
    if shot.pose is None or shot.heart is None:
        return np.zeros(acq.geom.size_hw, bool)
    px, pz = pixel_to_cm(acq.geom)
    gx, gz = to_scene(acq, px, pz)
    return lv_mask(shot.heart, shot.pose, gx, gz) & fan
