"""The clips the bench replays: the bundled labelled sample clip and pydicom's real A4C cine.

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
