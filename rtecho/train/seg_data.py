"""Simulator cines as the runtime sees them, for LV segmentation training and checks.

Each cine is rendered by simulator v1 (2-D) or v2 (3-D heart sliced by a virtual probe), apical 4- or
2-chamber, EF uniform in ``ef_range``, heart rate 45-130 /min, frame rate 20-80 /s, the simulators' own
realism randomisation, at a random source size (so the network sees speckle downscaled by different
factors, as from scanners' screens). Each kept frame goes through the runtime path: crop to the
sector's bounding box (jittered by a few pixels, as a detected sector), blank outside the sector,
antialiased resize to the input size by :func:`rtecho.runtime.preprocess.resize` (the
:class:`~rtecho.runtime.preprocess.Preprocessor`'s own function); the LV mask takes the same crop and
resize, thresholded at 0.5. The end-diastolic and end-systolic frames of each cine are always kept,
plus random others.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rtecho.runtime.preprocess import resize

SIMS = ("v1", "v2")
APICAL = ("A4C", "A2C")


@dataclass(frozen=True)
class SegSample:
    """One cine's kept frames after the runtime crop and resize (image 0..255 float, mask 0/1)."""

    images: np.ndarray  # (k, H, W) float32 0..255
    masks: np.ndarray  # (k, H, W) uint8
    kinds: np.ndarray  # (k,) 0 random, 1 ED, 2 ES
    ef: float
    view: str
    sim: str
    seed: int


def sector_crop(
    fan: np.ndarray, rng: np.random.Generator | None = None, jitter: float = 0.02
) -> tuple[int, int, int, int]:
    """(top, left, height, width) of the sector's bounding box, each side moved by up to ``jitter`` x size."""
    ys, xs = np.nonzero(fan)
    top, bottom, left, right = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    if rng is not None and jitter > 0:
        jh, jw = jitter * (bottom - top), jitter * (right - left)
        top += int(round(rng.uniform(-jh, jh)))
        bottom += int(round(rng.uniform(-jh, jh)))
        left += int(round(rng.uniform(-jw, jw)))
        right += int(round(rng.uniform(-jw, jw)))
    h, w = fan.shape
    top, left = max(0, top), max(0, left)
    bottom, right = min(h, max(bottom, top + 8)), min(w, max(right, left + 8))
    return top, left, bottom - top, right - left


def crop_resize(
    frame: np.ndarray,
    mask: np.ndarray,
    fan: np.ndarray,
    roi: tuple[int, int, int, int],
    size_hw: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """The runtime's view of one frame: crop to ``roi``, zero outside ``fan``, resize; the mask likewise."""
    t, x0, h, w = roi
    img = frame[t : t + h, x0 : x0 + w].astype(np.float32) * fan[t : t + h, x0 : x0 + w]
    m = resize(mask[t : t + h, x0 : x0 + w].astype(np.float32), size_hw)
    return resize(img, size_hw), (m > 0.5).astype(np.uint8)


def render_cine_sample(
    seed: int,
    size_hw: tuple[int, int] = (112, 112),
    frames_per_cine: int = 8,
    ef_range: tuple[float, float] = (15.0, 80.0),
    sims: Sequence[str] = SIMS,
    views: Sequence[str] = APICAL,
    source_sizes: tuple[int, int] | None = None,
) -> SegSample:
    """Render one cine from ``seed`` and keep its ED, ES and ``frames_per_cine - 2`` random frames.

    ``source_sizes``: the range of the rendered frame's height (default: the input height to 11/7 of
    it, 112-176 px for 112x112); its width is 1.0-1.3 x the height."""
    from rtecho.synth.cine import render_cine as render_v1
    from rtecho.synth.heart3d.cine import render_cine as render_v2
    from rtecho.synth.physics import fan_mask

    rng = np.random.default_rng(seed)
    sim = sims[int(rng.integers(len(sims)))]
    view = views[int(rng.integers(len(views)))]
    ef = float(rng.uniform(*ef_range))
    hr = float(rng.uniform(45.0, 130.0))
    fps = float(rng.uniform(20.0, 80.0))
    lo, hi = source_sizes or (size_hw[0], round(size_hw[0] * 11 / 7))
    side = int(rng.integers(lo, hi + 1))
    src_hw = (side, int(round(side * rng.uniform(1.0, 1.3))))
    n = max(2, int(math.ceil(fps * 60.0 / hr)) + 1)  # one beat: ED and ES both inside
    render = render_v1 if sim == "v1" else render_v2
    cine = render(view, rng, n_frames=n, fps=fps, ef=ef, heart_rate=hr, size_hw=src_hw)
    fan = fan_mask(cine.geometry)
    others = [i for i in range(cine.n_frames) if i not in (cine.ed_index, cine.es_index)]
    k = min(len(others), max(0, frames_per_cine - 2))
    picked = [cine.ed_index, cine.es_index, *rng.choice(others, size=k, replace=False).tolist()]
    kinds = [1, 2] + [0] * k
    roi = sector_crop(fan, rng)
    out = [crop_resize(cine.frames[i], cine.lv_masks[i], fan, roi, size_hw) for i in picked]
    return SegSample(
        images=np.stack([o[0] for o in out]),
        masks=np.stack([o[1] for o in out]),
        kinds=np.asarray(kinds, np.uint8),
        ef=cine.ef,
        view=view,
        sim=sim,
        seed=seed,
    )


def render_seg_set(seeds: Sequence[int], workers: int = 1, **kw: Any) -> dict[str, np.ndarray]:
    """Render the cines of ``seeds`` (see :func:`render_cine_sample`) into flat arrays for an .npz.

    Keys: ``images`` (N, H, W) float16 0..255, ``masks`` (N, H, W) uint8, ``kinds`` (0/1 ED/2 ES),
    ``cine`` (index into the per-cine arrays), per cine ``seeds``, ``ef``, ``views``, ``sims``.
    """
    from functools import partial

    fn = partial(render_cine_sample, **kw)
    if workers > 1:
        from multiprocessing import get_context

        with get_context("spawn").Pool(workers) as pool:
            samples = pool.map(fn, list(seeds), chunksize=4)
    else:
        samples = [fn(s) for s in seeds]
    return {
        "images": np.concatenate([s.images for s in samples]).astype(np.float16),
        "masks": np.concatenate([s.masks for s in samples]),
        "kinds": np.concatenate([s.kinds for s in samples]),
        "cine": np.concatenate([np.full(len(s.kinds), i, np.int32) for i, s in enumerate(samples)]),
        "seeds": np.asarray([s.seed for s in samples], np.int64),
        "ef": np.asarray([s.ef for s in samples], np.float32),
        "views": np.asarray([s.view for s in samples]),
        "sims": np.asarray([s.sim for s in samples]),
    }


def load_seg_set(path: str | Path) -> dict[str, np.ndarray]:
    """Load an .npz written from :func:`render_seg_set` (no pickle)."""
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}
