"""Writing simulator output: PNG ImageFolder stills, MP4 / MJPEG AVI / multi-frame DICOM cines, FileList.csv.

Layout of :func:`generate_dataset`::

    OUT/stills/VIEW/VIEW_000000.png          ImageFolder tree of stills
    OUT/cines/NAME.avi|.mp4|.dcm              loops (``cine=True``)
    OUT/cines/masks/NAME.npz                  lv_masks (N,H,W) bool, ed_index, es_index, volumes, landmarks
    OUT/cines/FileList.csv                    EchoNet-style: FileName, View, EF, ESV, EDV, FrameHeight,
                                              FrameWidth, FPS, NumberOfFrames, HeartRate, EDFrame, ESFrame, Split
    OUT/cines/VolumeTracings.csv              EchoNet-style: FileName (with suffix), X1, Y1, X2, Y2, Frame: per
                                              apical cine, the ES then the ED frame, each a long axis + 20 chords
                                              traced on the true LV mask (rtecho.cardiac.tracing)
    OUT/contact_sheet.png                     one still per view, labelled
"""

from __future__ import annotations

import csv
import datetime
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rtecho._lazy import require
from rtecho.synth.cine import Cine, render_cine
from rtecho.synth.config import SynthConfig, SynthError, check_size, check_view

US_MULTIFRAME_SOP = "1.2.840.10008.5.1.4.1.1.3.1"
CINE_FORMATS = ("avi", "mp4", "dcm")


def write_png(path: str | Path, image: np.ndarray) -> None:
    """Write a uint8 gray/RGB image as PNG."""
    Image = require("PIL.Image", "synth", "writing PNG")
    Image.fromarray(image).save(path)


def _even(frames: np.ndarray) -> np.ndarray:
    n, h, w = frames.shape
    return np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2)))


def write_video(path: str | Path, frames: np.ndarray, fps: float) -> None:
    """Write (N, H, W) uint8 frames as MP4 (H.264 or MPEG-4) or MJPEG AVI, chosen by the suffix."""
    av = require("av", "video", "writing cine videos")
    from fractions import Fraction

    path = Path(path)
    frames = _even(frames)
    rate = Fraction(fps).limit_denominator(1000)
    with av.open(str(path), "w") as container:
        if path.suffix.lower() == ".avi":
            stream = container.add_stream("mjpeg", rate=rate)
            stream.pix_fmt = "yuvj420p"
        else:
            codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
            stream = container.add_stream(codec, rate=rate)
            stream.pix_fmt = "yuv420p"
        stream.height, stream.width = frames.shape[1:]
        for f in frames:
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="gray")
            for pkt in stream.encode(vf):
                container.mux(pkt)
        for pkt in stream.encode():
            container.mux(pkt)


def write_dicom(path: str | Path, frames: np.ndarray, fps: float, view: str = "") -> None:
    """Write (N, H, W) uint8 frames as an Ultrasound Multi-frame Image (FrameTime in ms = 1000 / fps)."""
    pydicom = require("pydicom", "dicom", "writing DICOM cines")
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = US_MULTIFRAME_SOP
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = US_MULTIFRAME_SOP
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "US"
    ds.PatientName = "SYNTH^PHANTOM"
    ds.PatientID = "RTECHO-SYNTH"
    ds.Manufacturer = "rtecho.synth"
    ds.SeriesDescription = f"synthetic {view}".strip()
    ds.ContentDate = datetime.date.today().strftime("%Y%m%d")
    n, h, w = frames.shape
    ds.NumberOfFrames = n
    ds.FrameTime = f"{1000.0 / fps:.4f}"
    ds.CineRate = int(round(fps))
    ds.RecommendedDisplayFrameRate = int(round(fps))
    ds.FrameIncrementPointer = pydicom.tag.Tag(0x0018, 0x1063)
    ds.Rows, ds.Columns = h, w
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PixelData = np.ascontiguousarray(frames, np.uint8).tobytes()
    ds.save_as(str(path), enforce_file_format=True)


def write_cine(out_dir: Path, name: str, cine: Cine, formats: Sequence[str]) -> None:
    """Write ``cine`` in ``formats`` plus its masks/landmarks ``masks/NAME.npz`` (no pickle)."""
    for fmt in formats:
        if fmt == "dcm":
            write_dicom(out_dir / f"{name}.dcm", cine.frames, cine.fps, cine.view)
        else:
            write_video(out_dir / f"{name}.{fmt}", cine.frames, cine.fps)
    (out_dir / "masks").mkdir(exist_ok=True)
    np.savez_compressed(
        out_dir / "masks" / f"{name}.npz",
        lv_masks=cine.lv_masks,
        ed_index=cine.ed_index,
        es_index=cine.es_index,
        volumes=cine.volumes,
        lv_apex_xy=cine.lv_apex_xy,
        lv_base_xy=cine.lv_base_xy,
    )


APICAL = ("A2C", "A3C", "A4C", "A5C")


def tracing_rows(file_name: str, cine: Cine) -> list[list]:
    """``VolumeTracings.csv`` rows of an apical cine: the ES then the ED frame (EchoNet's reader takes the
    last traced frame as the large one), 21 lines each; none for other views or an empty mask."""
    from rtecho.cardiac.tracing import tracing_from_mask

    if cine.view not in APICAL:
        return []
    masks = [cine.lv_masks[cine.es_index], cine.lv_masks[cine.ed_index]]
    if cine.es_index == cine.ed_index or not all(m.sum() >= 20 for m in masks):
        return []
    out = []
    for frame, m in zip((cine.es_index, cine.ed_index), masks, strict=True):
        for x1, y1, x2, y2 in tracing_from_mask(m):
            out.append([file_name, f"{x1:.3f}", f"{y1:.3f}", f"{x2:.3f}", f"{y2:.3f}", int(frame)])
    return out


def _split(i: int) -> str:
    return "TEST" if i % 10 == 9 else "VAL" if i % 10 == 8 else "TRAIN"


def generate_dataset(
    out_dir: str | Path,
    views: Sequence[str],
    n_per_view: int,
    size_hw: tuple[int, int] = (128, 128),
    seed: int = 0,
    cine: bool = False,
    progress: bool = True,
    n_frames: int = 32,
    fps: float = 30.0,
    formats: Sequence[str] = ("avi",),
    config: SynthConfig | None = None,
    sim: str = "v1",
) -> Path:
    """Generate stills (and cines with ``cine=True``) under ``out_dir``; deterministic for ``seed``.

    ``sim`` picks the simulator of the stills and the contact sheet: ``v1`` (2-D layouts) or ``v2`` (3-D
    heart sliced by probe poses, :mod:`rtecho.synth.heart3d`); the folder layout is the same.

    >>> import tempfile
    >>> out = generate_dataset(tempfile.mkdtemp(), ["A4C"], 1, (32, 32), seed=0, progress=False)
    >>> sorted(p.name for p in (out / "stills" / "A4C").iterdir())
    ['A4C_000000.png']
    """
    views = [check_view(v) for v in views]
    size = check_size(size_hw)
    if int(n_per_view) < 1:
        raise SynthError(f"n_per_view must be >= 1, got {n_per_view}")
    bad = [f for f in formats if f not in CINE_FORMATS]
    if bad:
        raise SynthError(f"unknown cine format(s) {bad}; known: {', '.join(CINE_FORMATS)}")
    from rtecho.synth.sims import still_renderer

    render = still_renderer(sim)
    if sim == "v2":
        from rtecho.synth.heart3d.cine import render_cine as cine_fn
    else:
        cine_fn = render_cine
    out = Path(out_dir)
    cfg = config or SynthConfig(size_hw=size)
    jobs = [(v, i) for v in views for i in range(int(n_per_view))]
    tqdm = require("tqdm", "train", "progress bars").tqdm if progress else None
    it = tqdm(jobs, desc="synth stills", unit="img") if tqdm else jobs
    for v, i in it:
        rng = np.random.default_rng([int(seed), 1, views.index(v), i])
        (out / "stills" / v).mkdir(parents=True, exist_ok=True)
        write_png(out / "stills" / v / f"{v}_{i:06d}.png", render(v, rng, size, cfg))
    if cine:
        cdir = out / "cines"
        cdir.mkdir(parents=True, exist_ok=True)
        rows = []
        traces: list[list] = []
        it = tqdm(jobs, desc="synth cines", unit="loop") if tqdm else jobs
        for v, i in it:
            rng = np.random.default_rng([int(seed), 2, views.index(v), i])
            c = cine_fn(v, rng, n_frames=n_frames, fps=fps, size_hw=size)
            name = f"SYN_{v}_{i:06d}"
            write_cine(cdir, name, c, formats)
            traces += tracing_rows(f"{name}.{formats[0]}" if formats else name, c)
            rows.append(
                [
                    name,
                    v,
                    f"{c.ef:.2f}",
                    f"{c.esv:.2f}",
                    f"{c.edv:.2f}",
                    size[0],
                    size[1],
                    f"{c.fps:g}",
                    c.n_frames,
                    f"{c.heart_rate:.1f}",
                    c.ed_index,
                    c.es_index,
                    _split(i),
                ]
            )
        with open(cdir / "FileList.csv", "w", newline="") as fh:
            wr = csv.writer(fh)
            wr.writerow(
                [
                    "FileName",
                    "View",
                    "EF",
                    "ESV",
                    "EDV",
                    "FrameHeight",
                    "FrameWidth",
                    "FPS",
                    "NumberOfFrames",
                    "HeartRate",
                    "EDFrame",
                    "ESFrame",
                    "Split",
                ]
            )
            wr.writerows(rows)
        with open(cdir / "VolumeTracings.csv", "w", newline="") as fh:
            wr = csv.writer(fh)
            wr.writerow(["FileName", "X1", "Y1", "X2", "Y2", "Frame"])
            wr.writerows(traces)
    from rtecho.synth.contact import contact_sheet

    write_png(out / "contact_sheet.png", contact_sheet(seed=seed, size_hw=size, views=views, sim=sim))
    return out
