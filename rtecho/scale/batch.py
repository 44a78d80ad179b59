"""``rtecho batch``: view recognition over an archive of videos and DICOMs on Ray Data.

Each file is one row of a Ray Dataset; a Ray task decodes and classifies it through the very
pipeline of ``rtecho run`` (:func:`rtecho.pipeline.run_stream`), so the labels are the
same frame for frame, and returns one result row (plus its per-frame rows). The driver writes the
rows as they come (:mod:`rtecho.scale.results`). A file that cannot be read is an error row; a
worker killed mid-file is retried by Ray (``max_retries``), and a file still unfinished after that
is an error row too, so every file is accounted for exactly once. Example::

    from rtecho.scale.batch import run_batch
    report = run_batch(["archive/"], "results.parquet", frames_out="frames.parquet")

EF columns (``ef_per_beat``, ``ef_mean``) are null until rtecho has an LV segmentation stage.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import json
import logging
import os
import sys
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rtecho._version import __version__
from rtecho.errors import RtechoError, SourceError, first_line

log = logging.getLogger(__name__)

#: Files in a folder that are never inputs (sidecars of datasets: lists, masks, logs, outputs).
SIDECAR_SUFFIXES = frozenset({".csv", ".json", ".jsonl", ".npz", ".npy", ".parquet", ".tmp", ".md"})
VIDEO_GUESSES = ("", ".avi", ".mp4", ".dcm")


@dataclass(frozen=True)
class BatchOptions:
    """How each file is classified (the options of ``rtecho run`` that change labels)."""

    model: str = "darts2"
    backend: str | None = None
    precision: str = "fp32"
    threads: int | None = None
    ultrasound: bool = False
    frames: bool = False  # also return per-frame rows


@dataclass(frozen=True)
class BatchReport:
    """What one ``run_batch`` did."""

    inputs: int
    skipped: int
    processed: int
    errors: int
    lost: int
    rows: int
    seconds: float
    frames: int

    def line(self) -> str:
        return (
            f"{self.inputs} file(s): {self.skipped} already done, {self.processed} processed "
            f"({self.frames} frames), {self.errors} error row(s) ({self.lost} lost workers); "
            f"{self.rows} row(s) in the output; {self.seconds:.1f} s"
        )


def _filelist(csv_path: Path) -> list[str]:
    """Videos named by an EchoNet-style FileList.csv (``FileName`` column; files in ``Videos/`` or
    beside the list, extension optional)."""
    with open(csv_path, newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "FileName" not in reader.fieldnames:
            raise SourceError(f"{csv_path}: no FileName column (an EchoNet-style FileList.csv has one)")
        names = [row["FileName"] for row in reader if row.get("FileName")]
    out = []
    for name in names:
        found = None
        for folder in (csv_path.parent / "Videos", csv_path.parent):
            for ext in VIDEO_GUESSES:
                cand = folder / f"{name}{ext}"
                if cand.is_file():
                    found = cand
                    break
            if found:
                break
        out.append(str(found or csv_path.parent / name))  # a missing one becomes an error row
    return out


def collect_inputs(inputs: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Absolute paths of the files to process, in order, each once: folders (recursively, hidden
    files and dataset sidecars left out), globs, FileList.csv files and single files."""
    seen: dict[str, None] = {}
    for item in inputs:
        text = os.fspath(item)
        p = Path(text)
        if p.is_dir():
            files = sorted(
                f
                for f in p.rglob("*")
                if f.is_file()
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
                and f.suffix.lower() not in SIDECAR_SUFFIXES
            )
            paths = [str(f) for f in files]
        elif p.suffix.lower() == ".csv" and p.is_file():
            paths = _filelist(p)
        elif any(c in text for c in "*?["):
            paths = sorted(g for g in glob.glob(text, recursive=True) if Path(g).is_file())
            if not paths:
                raise SourceError(f"no file matches {text!r}")
        elif p.exists():
            paths = [text]
        else:
            raise SourceError(f"no such file, folder or glob: {text}")
        for path in paths:
            seen.setdefault(str(Path(path).resolve()), None)
    return list(seen)


_ENGINES: dict[tuple, Any] = {}


def _engine(opts: BatchOptions) -> Any:
    """One open engine per worker process and configuration (loaded on a worker's first file)."""
    key = (opts.model, opts.backend, opts.precision, opts.threads)
    if key not in _ENGINES:
        from rtecho.runtime import load_engine

        kw = {"threads": opts.threads} if opts.threads else {}
        _ENGINES[key] = load_engine(opts.model, backend=opts.backend, precision=opts.precision, **kw).open()
    return _ENGINES[key]


def _sha256(path: str) -> str | None:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return None
    return h.hexdigest()


def classify_file(path: str, opts: BatchOptions) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The result row of one file and its frame rows; a file that cannot be read gives an error row."""
    from rtecho.commands.run import clip_of
    from rtecho.io import open_source
    from rtecho.pipeline import run_stream

    t0 = time.perf_counter()
    row: dict[str, Any] = {
        "path": path,
        "sha256": _sha256(path),
        "size_bytes": os.path.getsize(path) if os.path.isfile(path) else None,
        "model": opts.model,
        "rtecho_version": __version__,
        "ef_per_beat": None,
        "ef_mean": None,
        "worker_pid": os.getpid(),
        "node_id": _node_id(),
    }
    frames: list[dict[str, Any]] = []
    try:
        engine = _engine(opts)  # an engine that cannot load on this node is an error row, too
        row.update(
            model=engine.card.name,
            onnx_sha256=engine.card.onnx_sha256,
            backend=f"{engine.backend}/{engine.precision}",
        )
        source = open_source(path)
        fps = source.info.fps or 30.0
        summary, preds = run_stream(engine, source, ultrasound=opts.ultrasound, policy="block", keep=True)
    except (RtechoError, OSError) as exc:
        row.update(error=first_line(exc), seconds=time.perf_counter() - t0, frames=0, processed=0)
        return row, frames
    preds = preds or []
    clip, unknown = clip_of(preds, fps) if preds else (None, 0)
    row.update(
        frames=summary.frames_read,
        processed=summary.processed,
        dropped=summary.dropped,
        frame_errors=summary.errors,
        fps=source.info.fps,
        view=clip.label if clip else None,
        confidence=clip.confidence if clip and clip.label else None,
        segments=clip.to_dict()["segments"] if clip else [],
        modes=dict(clip.modes) if clip else {},
        unknown_fraction=unknown / summary.processed if summary.processed else None,
        error=summary.stream_error or (None if summary.frames_read else "no frame could be read"),
        seconds=time.perf_counter() - t0,
    )
    if opts.frames:
        for p in preds:
            frames.append(
                {
                    "path": path,
                    "frame": p.frame_index,
                    "timestamp": p.timestamp,
                    "label": p.label,
                    "confidence": p.confidence if p.ok else None,
                    "smoothed_label": p.smoothed_label,
                    "accepted": p.accepted,
                    "mode": p.mode,
                    "error": p.error,
                }
            )
    return row, frames


def _node_id() -> str | None:
    try:
        import ray

        return ray.get_runtime_context().get_node_id() if ray.is_initialized() else None
    except (ImportError, AttributeError, RuntimeError):
        return None


def _map_row(item: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """Ray Data map function: one input row -> one output row, results as JSON text (no pickle)."""
    row, frames = classify_file(item["path"], BatchOptions(**options))
    return {"path": item["path"], "row": json.dumps(row), "frames": json.dumps(frames)}


def lost_row(path: str, opts: BatchOptions, retries: int) -> dict[str, Any]:
    return {
        "path": path,
        "sha256": _sha256(path),
        "rtecho_version": __version__,
        "model": opts.model,
        "error": f"not finished: its worker was lost {retries + 1} time(s) (killed, out of memory or crashed)",
    }


def run_batch(
    inputs: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    frames_out: str | os.PathLike[str] | None = None,
    options: BatchOptions | None = None,
    address: str | None = None,
    num_cpus: int | None = None,
    retry_errors: bool = False,
    max_retries: int = 3,
    progress: bool = True,
) -> BatchReport:
    """Classify every input file on Ray; rows go to ``out`` (and frame rows to ``frames_out``)."""
    from rtecho.runtime import load_card, resolve_model
    from rtecho.scale.results import ResultStore

    t0 = time.perf_counter()
    opts = options or BatchOptions()
    opts = BatchOptions(**{**asdict(opts), "frames": frames_out is not None})
    load_card(resolve_model(opts.model))  # a bad model fails here, once, not in every task
    files = collect_inputs(inputs)
    store = ResultStore(out, frames_out)
    done = store.done(include_errors=not retry_errors)
    todo = [f for f in files if f not in done]
    previous = store.done(include_errors=True)
    store.redone = {f for f in todo if f in previous}
    seen: set[str] = set()
    errors = n_frames = 0
    if todo:
        for row, frames in _run_on_ray(todo, opts, address, num_cpus, max_retries, progress):
            if row["path"] in seen:  # never twice, whatever a retry did
                continue
            seen.add(row["path"])
            errors += row.get("error") is not None
            n_frames += row.get("processed") or 0
            store.add(row, frames)
    lost = [f for f in todo if f not in seen]
    for f in lost:
        store.add(lost_row(f, opts, max_retries))
    rows = store.finish()
    return BatchReport(
        inputs=len(files),
        skipped=len(files) - len(todo),
        processed=len(seen),
        errors=errors + len(lost),
        lost=len(lost),
        rows=rows,
        seconds=time.perf_counter() - t0,
        frames=n_frames,
    )


def _run_on_ray(
    todo: list[str],
    opts: BatchOptions,
    address: str | None,
    num_cpus: int | None,
    max_retries: int,
    progress: bool,
) -> Iterable[tuple[dict[str, Any], list[dict[str, Any]]]]:
    from rtecho.scale.cluster import connect

    ray = connect(address, num_cpus=num_cpus)
    from ray.data import DataContext

    ctx = DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.max_errored_blocks = -1  # a block whose worker died after every retry is reported, not fatal
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    ds = ray.data.from_items([{"path": p} for p in todo], override_num_blocks=min(len(todo), 2000))
    with warnings.catch_warnings():
        # Ray Data retries a task whose worker died forever by default: a file that kills its
        # worker every time would hang the job. Ray 2.60 deprecates the remote args (removal in
        # 2.64, hence the bound in setup.cfg) without a named parameter for max_retries yet.
        warnings.simplefilter("ignore", DeprecationWarning)
        ds = ds.map(
            _map_row,
            fn_kwargs={"options": asdict(opts)},
            num_cpus=1,
            max_retries=max_retries,
            scheduling_strategy="SPREAD",
        )
    bar = _bar(len(todo), progress)
    try:
        for item in ds.iter_rows():
            bar.update(1)
            yield json.loads(item["row"]), json.loads(item["frames"])
    finally:
        bar.close()


def _bar(total: int, enabled: bool) -> Any:
    from rtecho.commands.run import _NoBar

    if not enabled:
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(total=total, unit="file", file=sys.stderr, leave=False)


__all__ = ["BatchOptions", "BatchReport", "classify_file", "collect_inputs", "run_batch"]
