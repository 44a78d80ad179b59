"""The File tab's work: an uploaded video or DICOM cine in; annotated MP4, JSONL, plots and a summary out.

>>> result = process_file("clip.mp4", engine, out_dir)  # doctest: +SKIP
>>> result.video, result.timeline, result.summary.processed  # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from rtecho.demo.engines import demo_pipeline
from rtecho.demo.plots import latency_histogram_png, timeline_png
from rtecho.errors import SourceError
from rtecho.io import DICOM_EXTENSIONS, VIDEO_EXTENSIONS, is_dicom, open_source
from rtecho.pipeline import StreamSummary, run_stream
from rtecho.runtime import Engine
from rtecho.types import Prediction
from rtecho.viz import default_overlay

#: What the File tab accepts (the browser's file picker filter; the server checks again).
ACCEPTED_EXTENSIONS: tuple[str, ...] = tuple(sorted(VIDEO_EXTENSIONS | DICOM_EXTENSIONS))


class UploadError(SourceError):
    """An upload the demo cannot use: missing, empty, not a video or DICOM, undecodable."""


@dataclass
class FileResult:
    """Outputs of one file run (paths in the run's folder) and its summary."""

    video: Path
    jsonl: Path
    timeline: Path
    histogram: Path
    summary: StreamSummary
    predictions: list[Prediction] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def check_upload(path: str | os.PathLike[str] | None) -> Path:
    """Return the upload's path if it can be a video or DICOM, else raise UploadError (one line)."""
    if path is None or os.fspath(path) == "":
        raise UploadError("no file uploaded: choose a video (MP4, AVI, GIF, ...) or a DICOM cine (.dcm)")
    p = Path(path)
    if not p.is_file():
        raise UploadError(f"the upload {p.name} did not arrive (no such file); try again")
    if p.stat().st_size == 0:
        raise UploadError(f"the uploaded file {p.name} is empty (0 bytes)")
    suffix = p.suffix.lower()
    if suffix not in VIDEO_EXTENSIONS and suffix not in DICOM_EXTENSIONS and not is_dicom(p):
        raise UploadError(
            f"{p.name} is not a video or DICOM file (type {suffix or 'unknown'}); "
            f"accepted: {' '.join(ACCEPTED_EXTENSIONS)}"
        )
    return p


def process_file(path: str | os.PathLike[str] | None, engine: Engine, out_dir: str | Path) -> FileResult:
    """Classify every frame of an upload with ``engine`` (lossless) and write the outputs to ``out_dir``.

    Raises UploadError when the file cannot be read or yields no frame; a stream that fails part
    way keeps the frames done so far and reports the failure in ``warnings``.
    """
    src_path = check_upload(path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = src_path.stem[:60] or "upload"
    video, jsonl = out / f"{stem}.annotated.mp4", out / f"{stem}.jsonl"
    try:
        source = open_source(src_path)
    except SourceError as exc:
        raise UploadError(_clean(str(exc), src_path)) from None
    card = engine.card
    pipeline = demo_pipeline(engine, default_overlay())  # the LV contour and EF on apical views
    summary, kept = run_stream(
        engine, source, policy="block", video=video, jsonl=jsonl, keep=True, pipeline=pipeline
    )
    preds = kept or []
    if summary.processed == 0:
        why = summary.stream_error or "no frame could be decoded"
        raise UploadError(_clean(f"{src_path.name}: {why}", src_path))
    warnings: list[str] = []
    if summary.stream_error:
        warnings.append(
            f"stopped early after {summary.processed} frames: {_clean(summary.stream_error, src_path)}"
        )
    if summary.errors:
        warnings.append(f"{summary.errors} frame(s) could not be classified (see the JSONL log)")
    title = f"{card.name} on {engine.backend} - {src_path.name}"
    return FileResult(
        video=video,
        jsonl=jsonl,
        timeline=timeline_png(preds, out / f"{stem}.timeline.png", title=title),
        histogram=latency_histogram_png(preds, out / f"{stem}.latency.png"),
        summary=summary,
        predictions=preds,
        warnings=warnings,
    )


def _clean(message: str, path: Path) -> str:
    """A message with the server-side temp path replaced by the file's name."""
    return message.replace(str(path), path.name).replace(str(path.parent) + os.sep, "")
