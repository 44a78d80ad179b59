"""A user's own copy of data in the EchoNet-Dynamic layout: (frame, LV mask) pairs at the traced frames.

Layout (as released by EchoNet-Dynamic; ``rtecho synth --cine`` writes the same files under ``cines/``)::

    ROOT/FileList.csv        FileName, EF, ESV, EDV, FrameHeight, FrameWidth, FPS, NumberOfFrames, Split, ...
    ROOT/VolumeTracings.csv  FileName, X1, Y1, X2, Y2, Frame: per traced frame a long axis + 20 chords
    ROOT/Videos/NAME.avi     the loops (or beside the CSV files, as in the simulator export)

Masks are built from the tracing polygon as ``echonet/datasets/echo.py`` builds them
(:func:`rtecho.cardiac.tracing.mask_from_tracing`); of the two traced frames the one with the larger
traced area is end-diastole (EchoNet's reader takes the last listed as the large one; the area decides
here, so files listing them in either order read the same). EF from the tracings is the method of
discs over the chords (:func:`rtecho.cardiac.tracing.tracing_volume`), ``100 (EDV - ESV) / EDV``.

>>> ds = EchoNetLayout("path/to/EchoNet-Dynamic", split="TRAIN")  # doctest: +SKIP
>>> image, mask, item = next(ds.pairs())  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from rtecho.cardiac.ef import ejection_fraction
from rtecho.cardiac.tracing import mask_from_tracing, tracing_volume
from rtecho.errors import RtechoError

TRACING_HEADER = ["FileName", "X1", "Y1", "X2", "Y2", "Frame"]
VIDEO_SUFFIXES = (".avi", ".mp4", ".dcm")


class EchoNetError(RtechoError, ValueError):
    """An EchoNet-layout folder is missing a file, or a CSV row is malformed."""


@dataclass(frozen=True)
class EchoNetVideo:
    """One row of ``FileList.csv`` with its tracings (``{frame: (21, 4) lines}``) and video path."""

    name: str
    path: Path
    split: str
    ef: float
    edv: float
    esv: float
    fps: float
    size_hw: tuple[int, int]
    n_frames: int
    tracings: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def traced(self) -> bool:
        return len(self.tracings) >= 2

    @cached_property
    def _by_area(self) -> list[int]:
        return sorted(self.tracings, key=lambda f: mask_from_tracing(self.tracings[f], self.size_hw).sum())

    @property
    def ed_frame(self) -> int:
        return self._by_area[-1]

    @property
    def es_frame(self) -> int:
        return self._by_area[0]

    def tracing_ef(self) -> tuple[float, float, float]:
        """``(EDV, ESV, EF)`` by the method of discs over the ED and ES tracings (px³, px³, percent)."""
        if not self.traced:
            return math.nan, math.nan, math.nan
        edv = tracing_volume(self.tracings[self.ed_frame])
        esv = tracing_volume(self.tracings[self.es_frame])
        return edv, esv, ejection_fraction(edv, esv)

    def mask(self, frame: int) -> np.ndarray:
        """The uint8 0/1 LV mask (H, W) of a traced frame."""
        return mask_from_tracing(self.tracings[frame], self.size_hw).astype(np.uint8)


def _float(row: dict[str, str], key: str, where: str) -> float:
    try:
        return float(row[key])
    except (KeyError, TypeError, ValueError):
        raise EchoNetError(f"{where}: column {key!r} missing or not a number ({row.get(key)!r})") from None


def read_tracings(path: str | Path) -> dict[str, dict[int, np.ndarray]]:
    """``{FileName: {Frame: (n, 4) lines}}`` from ``VolumeTracings.csv`` (rows kept in file order)."""
    path = Path(path)
    out: dict[str, dict[int, list[list[float]]]] = {}
    with open(path, newline="") as fh:
        rd = csv.reader(fh)
        header = next(rd, None)
        if header is None or [h.strip() for h in header] != TRACING_HEADER:
            raise EchoNetError(f"{path}: header must be {','.join(TRACING_HEADER)}, got {header}")
        for ln, row in enumerate(rd, start=2):
            if not row:
                continue
            try:
                name, x1, y1, x2, y2, frame = row
                vals = [float(x1), float(y1), float(x2), float(y2)]
                f = int(float(frame))
            except ValueError:
                raise EchoNetError(f"{path}:{ln}: malformed tracing row {row}") from None
            out.setdefault(name, {}).setdefault(f, []).append(vals)
    return {k: {f: np.asarray(v) for f, v in d.items()} for k, d in out.items()}


def _video_dir(root: Path) -> Path:
    return root / "Videos" if (root / "Videos").is_dir() else root


def _find_video(vdir: Path, name: str) -> Path | None:
    p = vdir / name
    if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file():
        return p
    for suf in VIDEO_SUFFIXES:
        if (vdir / f"{name}{suf}").is_file():
            return vdir / f"{name}{suf}"
    return None


class EchoNetLayout:
    """The videos of an EchoNet-layout folder (one ``split`` or all), with tracings and masks.

    ``require_tracings`` drops videos with fewer than two traced frames (as EchoNet's reader does).
    """

    def __init__(self, root: str | Path, split: str | None = None, require_tracings: bool = True) -> None:
        self.root = Path(root)
        flist = self.root / "FileList.csv"
        tpath = self.root / "VolumeTracings.csv"
        for p in (flist, tpath):
            if not p.is_file():
                raise EchoNetError(
                    f"{p} not found: an EchoNet-layout folder has FileList.csv and VolumeTracings.csv"
                )
        traces = read_tracings(tpath)
        vdir = _video_dir(self.root)
        self.videos: list[EchoNetVideo] = []
        missing: list[str] = []
        with open(flist, newline="") as fh:
            for ln, row in enumerate(csv.DictReader(fh), start=2):
                where = f"{flist}:{ln}"
                name = (row.get("FileName") or "").strip()
                if not name:
                    raise EchoNetError(f"{where}: empty FileName")
                sp = (row.get("Split") or "").strip().upper()
                if split is not None and sp != split.upper():
                    continue
                path = _find_video(vdir, name)
                if path is None:
                    missing.append(name)
                    continue
                tr = traces.get(path.name) or traces.get(name) or {}
                v = EchoNetVideo(
                    name=name,
                    path=path,
                    split=sp,
                    ef=_float(row, "EF", where),
                    edv=_float(row, "EDV", where),
                    esv=_float(row, "ESV", where),
                    fps=_float(row, "FPS", where),
                    size_hw=(int(_float(row, "FrameHeight", where)), int(_float(row, "FrameWidth", where))),
                    n_frames=int(_float(row, "NumberOfFrames", where)),
                    tracings=tr,
                )
                if require_tracings and not v.traced:
                    continue
                self.videos.append(v)
        if missing:
            raise EchoNetError(
                f"{len(missing)} video(s) of FileList.csv not found in {vdir}, e.g. {missing[0]}"
            )

    def __len__(self) -> int:
        return len(self.videos)

    def pairs(
        self, which: tuple[str, ...] = ("ED", "ES")
    ) -> Iterator[tuple[np.ndarray, np.ndarray, dict[str, Any]]]:
        """``(frame uint8 as decoded, mask uint8 0/1 (H, W), info)`` at the traced ED and ES frames."""
        from rtecho.io import open_source

        for v in self.videos:
            want = {v.ed_frame: "ED", v.es_frame: "ES"}
            want = {f: k for f, k in want.items() if k in which}
            got: dict[int, np.ndarray] = {}
            with open_source(str(v.path)) as src:
                for fr in src:
                    if fr.index in want:
                        got[fr.index] = fr.image
                    if len(got) == len(want) or fr.index > max(want):
                        break
            for f, kind in sorted(want.items()):
                if f not in got:
                    raise EchoNetError(
                        f"{v.path}: traced frame {f} is beyond the video's {v.n_frames} frames"
                    )
                img = got[f]
                if img.shape[:2] != v.size_hw:
                    raise EchoNetError(f"{v.path}: frame size {img.shape[:2]} != FileList's {v.size_hw}")
                yield img, v.mask(f), {"name": v.name, "frame": f, "kind": kind, "split": v.split, "ef": v.ef}


def segmentation_arrays(
    layout: EchoNetLayout, size_hw: tuple[int, int], preprocess: Any | None = None
) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """All traced pairs as network tensors: ``x`` (N, C, H, W) float32 and ``y`` (N, H, W) int64.

    ``preprocess`` is the runtime :class:`~rtecho.runtime.preprocess.Preprocessor` of the model card
    (so training sees what the runtime gives the engine); without one, grey 0..1. The mask is resized
    by the same resampling and thresholded at 0.5.
    """
    from rtecho.runtime.preprocess import resize, to_channels

    xs, ys, infos = [], [], []
    for img, mask, info in layout.pairs():
        if preprocess is not None:
            x = preprocess(img)[0]
        else:
            x = (resize(to_channels(img, 1), size_hw) / 255.0)[None].astype(np.float32)
        xs.append(x)
        ys.append((resize(mask.astype(np.float32), size_hw) > 0.5).astype(np.int64))
        infos.append(info)
    if not xs:
        raise EchoNetError(f"no traced frames in {layout.root}")
    return np.stack(xs), np.stack(ys), infos
