"""Helpers of the scale tests: simulator clips and the names of the inputs that `inputs_dir` holds."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def make_clip(
    folder: Path, name: str, view: str, seed: int, fmt: str, n_frames: int = 8, size: int = 64
) -> Path:
    from rtecho.synth.cine import render_cine
    from rtecho.synth.export import write_cine

    c = render_cine(view, np.random.default_rng(seed), n_frames=n_frames, fps=30, size_hw=(size, size))
    write_cine(folder, name, c, [fmt])
    return folder / f"{name}.{fmt}"


GOOD = ["sim0.avi", "sim1.mp4", "sim2.dcm", "sim3.avi", "sim4.mp4", "sim5.dcm", "ybr_color.dcm"]
BAD = ["broken.avi", "notes.txt"]
