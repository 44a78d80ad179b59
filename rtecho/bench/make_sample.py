"""The bundled labelled sample clip: a simulated scanning session, regenerated deterministically.

``python -m rtecho.bench.make_sample [--out DIR]`` writes ``sample_clip.avi`` (MJPEG, gray,
160x160, 30 fps) and ``sample_clip.json`` (per-frame view labels) into ``rtecho/data/``. The clip is
made by rtecho's echo phantom simulator (:mod:`rtecho.synth`), **not** recorded from a patient:
six views, one second each (a beat at 60-80 bpm), as a sonographer would sweep them.
The frames are a pure function of the seed; the AVI bytes also depend on the FFmpeg build.

>>> from rtecho.bench.make_sample import SEGMENTS
>>> [view for view, _ in SEGMENTS]
['PLAX', 'PSAX-MV', 'A4C', 'A2C', 'A3C', 'SC4C']
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

#: (view, frames) in scanning order.
SEGMENTS: tuple[tuple[str, int], ...] = (
    ("PLAX", 30),
    ("PSAX-MV", 30),
    ("A4C", 30),
    ("A2C", 30),
    ("A3C", 30),
    ("SC4C", 30),
)
FPS = 30.0
SIZE_HW = (160, 160)
SEED = 20240611
DATA_DIR = Path(__file__).resolve().parents[1] / "data"


def render_session(seed: int = SEED, size_hw: tuple[int, int] = SIZE_HW) -> tuple[np.ndarray, list[str]]:
    """Render the scanning session: (N, H, W) uint8 frames and one view label per frame."""
    from rtecho.synth import render_cine

    frames, labels = [], []
    for i, (view, n) in enumerate(SEGMENTS):
        rng = np.random.default_rng([seed, i])
        ef = float(rng.uniform(40, 65))
        hr = float(rng.uniform(60, 80))
        cine = render_cine(view, rng, n_frames=n, fps=FPS, ef=ef, heart_rate=hr, size_hw=size_hw)
        frames.append(cine.frames)
        labels += [view] * n
    return np.concatenate(frames), labels


def write_avi(path: Path, frames: np.ndarray, fps: float, quality: int = 4) -> None:
    """MJPEG AVI (as EchoNet distributes), no timestamps or version strings (``fflags=+bitexact``).

    MJPEG rather than H.264: libx264 gave different bytes from run to run here; intra-only JPEG is
    reproducible. ``quality`` is the MJPEG qscale (2 = best, 31 = worst).
    """
    from fractions import Fraction

    from rtecho._lazy import require

    av = require("av", "video", "writing the sample clip")
    with av.open(str(path), "w", format="avi", options={"fflags": "+bitexact"}) as container:
        stream = container.add_stream("mjpeg", rate=Fraction(fps).limit_denominator(1000))
        stream.pix_fmt = "yuvj420p"
        stream.height, stream.width = frames.shape[1:]
        ctx = stream.codec_context
        ctx.thread_count = 1
        ctx.flags |= av.codec.context.Flags.bitexact | av.codec.context.Flags.qscale
        ctx.qmin = ctx.qmax = quality
        for i, f in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="gray")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def write_sample(out_dir: str | Path = DATA_DIR, seed: int = SEED) -> tuple[Path, Path]:
    """Write ``sample_clip.avi`` and ``sample_clip.json`` into ``out_dir``; returns both paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    frames, labels = render_session(seed)
    video = out / "sample_clip.avi"
    write_avi(video, frames, FPS)
    segments, start = [], 0
    for view, n in SEGMENTS:
        segments.append({"view": view, "start": start, "stop": start + n})
        start += n
    meta = {
        "description": "SIMULATED scanning session made by rtecho's echo phantom simulator (rtecho.synth); "
        "not patient data. Per-frame labels are the simulator's ground truth.",
        "generator": "python -m rtecho.bench.make_sample",
        "seed": seed,
        "video": video.name,
        "video_sha256": hashlib.sha256(video.read_bytes()).hexdigest(),
        "frames_sha256": hashlib.sha256(frames.tobytes()).hexdigest(),
        "fps": FPS,
        "size_hw": list(frames.shape[1:]),
        "n_frames": int(frames.shape[0]),
        "segments": segments,
        "labels": labels,
    }
    labels_path = out / "sample_clip.json"
    labels_path.write_text(json.dumps(meta, indent=1) + "\n")
    return video, labels_path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m rtecho.bench.make_sample", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--out", default=str(DATA_DIR), help="output folder (default: rtecho/data)")
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args(argv)
    video, labels = write_sample(args.out, args.seed)
    print(f"wrote {video} ({video.stat().st_size / 1e3:.0f} kB) and {labels}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
