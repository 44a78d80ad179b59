"""The clips the bench replays: the bundled labelled sample clip and pydicom's real A4C cine; for
the full-resolution screen rows (ultrasound stage on, paced), pydicom-data's real 640x480 cine and
simulator screens at 800x600 and 1024x768, rendered when the bench runs (nothing big is committed).

Clips are decoded once into memory (each frame keeps the time it took to decode), then replayed.

>>> clip = load_sample_clip()
>>> clip.n_frames == len(clip.labels), clip.simulated
(True, True)
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rtecho.errors import SourceError
from rtecho.types import Frame

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
SAMPLE_CLIP = DATA_DIR / "sample_clip.avi"
SAMPLE_LABELS = DATA_DIR / "sample_clip.json"


@dataclass(frozen=True, eq=False)
class Clip:
    """Decoded frames of a clip, its fps, a short name for tables and optional per-frame labels."""

    name: str
    uri: str
    frames: tuple[Frame, ...]
    fps: float
    labels: tuple[str, ...] | None = None
    simulated: bool = False

    @property
    def n_frames(self) -> int:
        return len(self.frames)

    @property
    def size_hw(self) -> tuple[int, int]:
        return self.frames[0].size_hw

    @property
    def decode_ms_p50(self) -> float:
        return float(np.median([f.decode_ms for f in self.frames]))

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "uri": self.uri,
            "n_frames": self.n_frames,
            "size_hw": list(self.size_hw),
            "fps": self.fps,
            "labelled": self.labels is not None,
            "simulated": self.simulated,
            "decode_ms_p50": round(self.decode_ms_p50, 4),
        }


def load_clip(
    uri: str | Path, labels: list[str] | None = None, name: str | None = None, max_frames: int | None = None
) -> Clip:
    """Decode ``uri`` (any :func:`rtecho.io.open_source` URI) into a :class:`Clip`; the bundled sample
    clip keeps its labels however it is named."""
    from rtecho.io import open_source

    if labels is None and Path(str(uri)).is_file() and Path(str(uri)).resolve() == SAMPLE_CLIP.resolve():
        return load_sample_clip(max_frames)
    frames: list[Frame] = []
    with open_source(str(uri)) as src:
        for f in src:
            frames.append(f)
            if max_frames and len(frames) >= max_frames:
                break
        fps = src.info.fps or 30.0
    if not frames:
        raise SourceError(f"{uri}: no frames decoded")
    if labels is not None:
        if len(labels) < len(frames):
            raise SourceError(f"{uri}: {len(frames)} frames but only {len(labels)} labels")
        labels = labels[: len(frames)]
    return Clip(
        name=name or Path(str(uri)).name,
        uri=str(uri),
        frames=tuple(frames),
        fps=float(fps),
        labels=tuple(labels) if labels is not None else None,
    )


def sample_labels(path: str | Path = SAMPLE_LABELS) -> dict:
    """The sample clip's metadata: ``labels`` (one view per frame), ``segments``, ``fps``, provenance."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SourceError(
            f"cannot read the sample clip labels {path}: {exc} (regenerate: python -m rtecho.bench.make_sample)"
        ) from None


def load_sample_clip(max_frames: int | None = None) -> Clip:
    """The bundled labelled sample clip (simulated scanning session, see :mod:`rtecho.bench.make_sample`)."""
    meta = sample_labels()
    clip = load_clip(SAMPLE_CLIP, labels=list(meta["labels"]), name="sample (sim)", max_frames=max_frames)
    return Clip(clip.name, clip.uri, clip.frames, clip.fps, clip.labels, simulated=True)


def pydicom_a4c() -> str:
    """Path of pydicom's real A4C cine loop (30 frames 240x320, YBR_FULL_422 JPEG baseline)."""
    from rtecho._lazy import require

    examples = require("pydicom.examples", "dicom", "the real A4C cine")
    return str(examples.get_path("ybr_color"))


def load_a4c_clip(max_frames: int | None = None) -> Clip:
    """pydicom's real A4C cine (unlabelled for our purpose: accuracy is measured on the sample clip)."""
    return load_clip(pydicom_a4c(), name="A4C (real)", max_frames=max_frames)


def default_clips(max_frames: int | None = None) -> list[Clip]:
    """The default run's clips: the labelled sample clip, and the real A4C cine when pydicom is installed."""
    from rtecho.errors import MissingExtraError

    clips = [load_sample_clip(max_frames)]
    with contextlib.suppress(MissingExtraError):  # no pydicom: the sample clip alone
        clips.append(load_a4c_clip(max_frames))
    return clips


#: The simulator screens of the full-resolution rows (height, width).
SCREEN_SIZES: tuple[tuple[int, int], ...] = ((600, 800), (768, 1024))
#: pydicom-data's real A4C cine: 120 frames 640x480 at 30 fps, YBR_FULL_422 JPEG baseline.
REAL_SCREEN = "color3d_jpeg_baseline.dcm"


def pydicom_data_a4c() -> str:
    """Path of pydicom-data's real 640x480 A4C cine, found by pydicom's data manager without any
    download (``pip install pydicom-data``, in the ``bench`` extra)."""
    from rtecho._lazy import require
    from rtecho.errors import MissingExtraError

    data = require("pydicom.data", "dicom", "the real 640x480 cine")
    path = None
    with contextlib.suppress(ValueError, OSError):
        path = data.get_testdata_file(REAL_SCREEN, download=False)
    if not path:
        raise MissingExtraError(
            f"{REAL_SCREEN} is not installed; install it with: pip install pydicom-data "
            '(or pip install "rtecho[bench]")'
        )
    return str(path)


def simulator_screen_clip(
    size_hw: tuple[int, int], n_frames: int = 30, fps: float = 30.0, seed: int = 0, view: str = "A4C"
) -> Clip:
    """A scanner screen of ``size_hw`` from the simulator: a beating ``view`` cine in a fan over
    86% x 80% of the screen, with vendor text, depth ticks, a grey bar and an ECG trace whose
    cursor moves (screen furniture, static apart from the cursor). Needs ``rtecho[synth]``.

    >>> clip = simulator_screen_clip((120, 160), n_frames=2)
    >>> clip.size_hw, clip.n_frames, clip.frames[0].image.shape
    ((120, 160), 2, (120, 160, 3))
    """
    from rtecho.synth import SynthConfig, render_cine
    from rtecho.synth.screen import ScreenTruth, draw_furniture

    h, w = size_hw
    inner = (int(h * 0.86), int(w * 0.8))
    rng = np.random.default_rng([seed, h, w])
    cfg = SynthConfig(
        size_hw=inner,
        radius_frac=(0.85, 0.95),
        apex_y_frac=(0.0, 0.03),
        sector_deg=(70.0, 85.0),
        jpeg_prob=0.0,
    )
    cine = render_cine(view, rng, n_frames=n_frames, fps=fps, size_hw=inner, config=cfg)
    top, left = int(h * 0.06), (w - inner[1]) // 2
    g = cine.geometry
    truth = ScreenTruth(
        "bmode",
        view,
        (h, w),
        (g.apex_xy[0] + left, g.apex_xy[1] + top),
        g.radius_px,
        g.angle_start_deg,
        g.angle_end_deg,
        g.depth_cm,
    )
    frames = []
    for i, gray in enumerate(cine.frames):
        canvas = np.zeros((h, w, 3), np.uint8)
        canvas[top : top + inner[0], left : left + inner[1]] = gray[:, :, None]
        image = draw_furniture(canvas, truth, np.random.default_rng([seed, i % 2]), cine.heart_rate)
        frames.append(Frame(np.ascontiguousarray(image), index=i, timestamp=i / fps))
    return Clip(f"screen {w}x{h} (sim)", f"synth:screen:{w}x{h}", tuple(frames), fps, simulated=True)


def screen_clips(max_frames: int | None = None, sim_frames: int = 16) -> list[Clip]:
    """The full-resolution rows' clips: pydicom-data's real 640x480 cine (when installed) and the
    simulator screens of :data:`SCREEN_SIZES` (when the simulator's extra is installed), ``sim_frames``
    rendered frames each (a row loops them)."""
    from rtecho.errors import MissingExtraError

    clips = []
    with contextlib.suppress(MissingExtraError):
        clips.append(load_clip(pydicom_data_a4c(), name="A4C 640x480 (real)", max_frames=max_frames))
    with contextlib.suppress(ImportError, MissingExtraError):
        clips += [simulator_screen_clip(size, sim_frames) for size in SCREEN_SIZES]
    return clips
