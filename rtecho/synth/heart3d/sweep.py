"""Scanning sessions: the probe dwells on a view, sweeps to the next, and every frame keeps its true label.

The label of a frame is the label of its pose (:func:`rtecho.synth.heart3d.poses.label_pose`): a view
while the pose lies in that view's neighbourhood, OTHER in between. The heart beats throughout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rtecho.synth.config import SynthConfig, SynthError, check_size, check_view
from rtecho.synth.heart3d.anatomy import heart_at, random_subject
from rtecho.synth.heart3d.poses import Pose, interpolate, jitter, label_pose, nominal_poses, sample_view_pose
from rtecho.synth.heart3d.render import Shot, draw_v2_acquisition, lv_mask_image, render_pose
from rtecho.synth.render import finish

#: Views an operator reaches from one probe window without lifting the probe.
CHAINS: tuple[tuple[str, ...], ...] = (
    ("A4C", "A5C", "A4C", "A2C", "A3C"),
    ("A4C", "A2C", "A3C"),
    ("PLAX", "PSAX-AV", "PSAX-MV", "PSAX-PM", "PSAX-AP"),
    ("PLAX", "PSAX-MV"),
    ("SC4C", "SCIVC"),
)


@dataclass(frozen=True, eq=False)
class Sweep:
    """A session: frames (N, H, W) uint8, the true label and pose distance of each frame, LV masks."""

    frames: np.ndarray
    labels: tuple[str, ...]
    distances: np.ndarray
    poses: tuple[Pose, ...]
    lv_masks: np.ndarray
    fps: float
    heart_rate: float

    def changes(self) -> list[tuple[int, str, str]]:
        """(frame index, label before, label after) at every change of the true label."""
        return [
            (i, self.labels[i - 1], self.labels[i])
            for i in range(1, len(self.labels))
            if self.labels[i] != self.labels[i - 1]
        ]


def session_poses(
    views: Sequence[str], nominal: dict[str, Pose], n_frames: int, rng: np.random.Generator, dwell: float
) -> list[Pose]:
    """One pose per frame: dwell on each view (with hand tremor), then sweep to the next view."""
    keys = [sample_view_pose(v, nominal, rng, 0.35) for v in views]
    if len(keys) == 1:
        return [jitter(keys[0], rng, 0.03, 0.3, 0.3) for _ in range(n_frames)]
    per = n_frames / (len(keys) - 1 + dwell)
    out: list[Pose] = []
    for k, key in enumerate(keys):
        n_dw = max(1, int(round(per * dwell)))
        out += [jitter(key, rng, 0.03, 0.3, 0.3) for _ in range(n_dw)]
        if k + 1 < len(keys):
            n_tr = max(2, int(round(per * (1 - dwell))))
            out += [interpolate(key, keys[k + 1], (i + 1) / (n_tr + 1)) for i in range(n_tr)]
    idx = np.linspace(0, len(out) - 1, n_frames).round().astype(int)
    return [out[i] for i in idx]


def render_sweep(
    rng: np.random.Generator,
    views: Sequence[str] | None = None,
    n_frames: int = 60,
    fps: float = 25.0,
    size_hw: tuple[int, int] = (128, 128),
    config: SynthConfig | None = None,
    dwell: float = 0.5,
) -> Sweep:
    """Render a scanning session through ``views`` (default: a random chain of :data:`CHAINS`).

    >>> import numpy as np
    >>> s = render_sweep(np.random.default_rng(0), ["A4C", "A2C"], n_frames=8, size_hw=(48, 48))
    >>> s.frames.shape, s.labels[0], s.labels[-1]
    ((8, 48, 48), 'A4C', 'A2C')
    """
    size = check_size(size_hw)
    if views is None:
        views = CHAINS[int(rng.integers(len(CHAINS)))]
    views = [check_view(v) for v in views]
    if "OTHER" in views:
        raise SynthError("a sweep runs between standard views; OTHER is what lies between them")
    if int(n_frames) < 2 * len(views):
        raise SynthError(f"n_frames must be at least {2 * len(views)} for {len(views)} views, got {n_frames}")
    if not 1.0 <= float(fps) <= 1000.0:
        raise SynthError(f"fps must be between 1 and 1000, got {fps}")
    if not 0.0 < float(dwell) < 1.0:
        raise SynthError(f"dwell must be in (0, 1), got {dwell}")
    cfg = config or SynthConfig(size_hw=size)
    subj = random_subject(rng)
    nominal = nominal_poses(heart_at(subj, 0.0))
    poses = session_poses(views, nominal, int(n_frames), rng, float(dwell))
    acq = draw_v2_acquisition(rng, cfg, max(p.extent for p in poses), size)
    phase0 = float(rng.random())
    hr = subj.patient.heart_rate
    frames = np.zeros((len(poses), *size), np.uint8)
    masks = np.zeros((len(poses), *size), bool)
    labels, dists = [], []
    ref = None
    for i, pose in enumerate(poses):
        heart = heart_at(subj, (phase0 + i / fps * hr / 60.0) % 1.0)
        lab, d = label_pose(pose, nominal)
        labels.append(lab)
        dists.append(d)
        img, stages = render_pose(heart, pose, rng, acq, ref=ref)
        if ref is None:
            ref = float(np.percentile(stages.envelope[::3, ::3], 99.5)) + 1e-9
        frames[i] = finish(img, acq)
        masks[i] = lv_mask_image(Shot(lab, d, pose, heart), acq)
    return Sweep(frames, tuple(labels), np.asarray(dists), tuple(poses), masks, float(fps), hr)
