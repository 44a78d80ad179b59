"""Write before/after pictures of sector detection: ``python -m tests.ultrasound.sector_docs OUTDIR [files...]``.

Each picture is the input with the detected region outlined (left) and the cropped, blanked image
the model sees (right). With no files: pydicom's ultrasound examples and two simulator screens.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from rtecho.bench.clips import load_clip
from rtecho.ultrasound.sector import Sector, SectorDetector


def outline(image: np.ndarray, sector: Sector, color: tuple[int, int, int] = (0, 255, 0)) -> np.ndarray:
    """RGB copy of ``image`` with the border of ``sector`` drawn (2 px)."""
    rgb = np.repeat(image[:, :, None], 3, axis=2) if image.ndim == 2 else image.copy()
    m = sector.mask(image.shape[:2])
    inner = m.copy()
    for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1), (2, 0), (-2, 0), (0, 2), (0, -2)):
        inner &= np.roll(m, (dy, dx), axis=(0, 1))
    rgb[m & ~inner] = color
    return rgb


def before_after(frames: list[np.ndarray]) -> tuple[np.ndarray, Sector]:
    """Side-by-side picture for a clip (the detector runs over all its frames) and the last sector."""
    det = SectorDetector()
    sector = None
    for im in frames:
        sector = det.update(im)
    assert sector is not None
    last = frames[-1]
    after = sector.apply(last)
    after = np.repeat(after[:, :, None], 3, axis=2) if after.ndim == 2 else after
    left = outline(last, sector)
    h = max(left.shape[0], after.shape[0])
    pad = np.zeros((h, 8, 3), np.uint8)
    canvas = [np.pad(a, ((0, h - a.shape[0]), (0, 0), (0, 0))) for a in (left, pad, after)]
    return np.concatenate(canvas, axis=1), sector


def main(argv: list[str] | None = None) -> int:
    from PIL import Image

    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else "docs")
    out.mkdir(parents=True, exist_ok=True)
    files = args[1:]
    if not files:
        import pydicom.examples

        base = Path(pydicom.examples.get_path("ybr_color")).parent
        files = [
            str(base / n)
            for n in ("examples_ybr_color.dcm", "examples_palette.dcm", "examples_rgb_color.dcm")
        ]
    clips = {Path(p).stem: [f.image for f in load_clip(p, max_frames=30).frames] for p in files}
    if not args[1:]:
        from rtecho.synth import render_screen

        rng = np.random.default_rng(0)
        for view, mode in (("A4C", "bmode"), ("PLAX", "color_doppler")):
            clips[f"synth_{view}_{mode}"] = [render_screen(view, rng, mode=mode).image]
    for stem, frames in clips.items():
        pic, sector = before_after(frames)
        name = out / f"sector_{stem}.png"
        Image.fromarray(pic).save(name)
        print(name, sector.kind, [round(v, 1) for v in (*sector.apex_xy, sector.radius)], sector.bbox)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
