"""Pictures of LV tracking: the contour and EF readout on a frame (numpy), the area-curve plot (matplotlib).

>>> import numpy as np
>>> m = np.zeros((40, 40), bool); m[10:30, 15:25] = True
>>> annotate_lv(np.zeros((40, 40), np.uint8), m, ["EF 55%"]).shape
(40, 40, 3)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rtecho.cardiac.beats import BeatEvent
from rtecho.cardiac.lv import outline


def annotate_lv(image: np.ndarray, mask: np.ndarray | None, lines: Sequence[str] = ()) -> np.ndarray:
    """An RGB copy of ``image`` with the LV contour of ``mask`` and ``lines`` of text at the top left."""
    from rtecho.viz.cardiac import CONTOUR_RGB
    from rtecho.viz.font import auto_scale, draw_text, text_size

    canvas = np.repeat(image[:, :, None], 3, axis=2) if image.ndim == 2 else image.copy()
    h, w = canvas.shape[:2]
    if mask is not None and mask.any():
        canvas[outline(mask)] = CONTOUR_RGB  # as the stream's overlay draws it
    scale = auto_scale(h)
    y = 2
    for text in lines:
        th, tw = text_size(text, scale)
        canvas[y : y + th + 2, 0 : min(w, tw + 4)] //= 3
        draw_text(canvas, text, (y + 1, 2), scale=scale)
        y += th + 3
    return canvas


def beats_png(
    path: str | Path,
    times: np.ndarray,
    areas: np.ndarray,
    beats: Sequence[BeatEvent],
    clip_ef: float | None,
    area_unit: str = "px²",
    title: str = "",
) -> Path:
    """The LV area over time with ED (red) and ES (blue) marks, and EF per beat (grey: flagged)."""
    from rtecho._lazy import require

    require("matplotlib", "plot", "rtecho ef --plot")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 5.5), dpi=100, layout="constrained")
    ax, bx = fig.subplots(2, 1, height_ratios=(2, 1))
    t = np.asarray(times, float)
    a = np.asarray(areas, float)
    ax.plot(t, a, color="0.25", lw=1.2, label="LV area")
    if beats:
        ax.plot([b.ed_time for b in beats], [b.eda for b in beats], "v", color="tab:red", label="ED")
        ax.plot([b.es_time for b in beats], [b.esa for b in beats], "^", color="tab:blue", label="ES")
    ax.set_xlabel("time (s)")
    ax.set_ylabel(f"LV area ({area_unit})")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(title or "LV area and beats", fontsize=10)
    if beats:
        x = np.arange(1, len(beats) + 1)
        ef = [b.ef if np.isfinite(b.ef) else 0.0 for b in beats]
        colors = ["tab:green" if b.ok else "0.7" for b in beats]
        bx.bar(x, ef, color=colors)
        for xi, b in zip(x, beats, strict=True):
            label = f"{b.ef:.0f}" if np.isfinite(b.ef) else "-"
            if not b.ok:
                label += "\n" + ",".join(q.replace("_", " ") for q in b.quality)
            bx.text(xi, 1, label, ha="center", va="bottom", fontsize=7)
        bx.set_xticks(x)
    if clip_ef is not None:
        bx.axhline(clip_ef, color="tab:green", ls="--", lw=1, label=f"clip EF {clip_ef:.1f}%")
        bx.legend(loc="upper right", fontsize=8)
    bx.set_ylim(0, 100)
    bx.set_xlabel("beat (grey: quality flag, not in the clip EF)")
    bx.set_ylabel("EF (%)")
    path = Path(path)
    fig.savefig(path)
    return path


def _fit_height(image: np.ndarray, height: int) -> np.ndarray:
    h, w = image.shape[:2]
    rows = np.minimum((np.arange(height) * h / height).astype(int), h - 1)
    width = max(1, round(w * height / h))
    cols = np.minimum((np.arange(width) * w / width).astype(int), w - 1)
    return image[rows][:, cols]


def contact_sheet(tiles: Sequence[tuple[np.ndarray, np.ndarray, str]], height: int = 240) -> np.ndarray:
    """One RGB image of ``(image, mask, label)`` tiles, two per row (a beat's ED and ES), contours drawn."""
    drawn = [_fit_height(annotate_lv(img, m, [label]), height) for img, m, label in tiles]
    if not drawn:
        return np.zeros((height, height, 3), np.uint8)
    w = max(d.shape[1] for d in drawn)
    rows = []
    for k in range(0, len(drawn), 2):
        pair = drawn[k : k + 2]
        row = np.zeros((height, 2 * w + 4, 3), np.uint8)
        for j, d in enumerate(pair):
            row[:, j * (w + 4) : j * (w + 4) + d.shape[1]] = d
        rows.append(row)
    gap = np.zeros((4, rows[0].shape[1], 3), np.uint8)
    return np.concatenate([x for r in rows for x in (r, gap)][:-1])
