"""Helpers of the demo tests: pydicom's A4C cine as RGB frames, and a Y4M clip for Chromium's fake webcam."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def a4c_frames(size_hw: tuple[int, int] | None = None) -> list[np.ndarray]:
    """The RGB frames of pydicom's A4C cine (30 frames, 240x320), optionally resized to ``size_hw``."""
    from pydicom import examples

    from rtecho.io import open_source

    with open_source(examples.get_path("ybr_color")) as src:
        frames = [f.image if f.image.ndim == 3 else np.repeat(f.image[..., None], 3, axis=2) for f in src]
    if size_hw is not None:
        from PIL import Image

        frames = [np.asarray(Image.fromarray(f).resize(size_hw[::-1], Image.BILINEAR)) for f in frames]
    return frames


def write_y4m(path: Path, frames: list[np.ndarray], fps: int = 20) -> Path:
    """A YUV4MPEG2 file (4:2:0) of RGB ``frames``: what Chromium's fake video capture plays in a loop."""
    import av

    h, w = frames[0].shape[:2]
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for rgb in frames:
            yuv = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p").to_ndarray()
            f.write(b"FRAME\n")
            f.write(yuv.tobytes())
    return path
