"""The batch job's output: one Parquet row per file (and optionally one per frame), resumable.

Rows arrive from the workers as the job runs and are flushed every few rows into
``OUT.parts/part-*.parquet`` (each a complete Parquet file, so a job killed midway loses at most the
rows not yet flushed). At the end, the previous output, the parts and the new rows are merged into
``OUT`` (written to a temporary file, then renamed) and the parts removed. A rerun reads the paths
in ``OUT`` and in any leftover parts and skips them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rtecho._lazy import require


def _pa() -> Any:
    return require("pyarrow", "scale", "rtecho batch output")


def _pq() -> Any:
    return require("pyarrow.parquet", "scale", "rtecho batch output")


def file_schema() -> Any:
    pa = _pa()
    segment = pa.struct(
        [
            ("label", pa.string()),
            ("start_frame", pa.int32()),
            ("end_frame", pa.int32()),
            ("start_s", pa.float64()),
            ("end_s", pa.float64()),
            ("confidence", pa.float64()),
        ]
    )
    return pa.schema(
        [
            ("path", pa.string()),
            ("sha256", pa.string()),
            ("size_bytes", pa.int64()),
            ("frames", pa.int32()),
            ("processed", pa.int32()),
            ("dropped", pa.int32()),
            ("frame_errors", pa.int32()),
            ("fps", pa.float64()),
            ("view", pa.string()),
            ("confidence", pa.float64()),
            ("segments", pa.list_(segment)),
            ("modes", pa.map_(pa.string(), pa.int32())),
            ("unknown_fraction", pa.float64()),
            ("ef_per_beat", pa.list_(pa.float64())),  # null until the LV/EF stage lands
            ("ef_mean", pa.float64()),
            ("model", pa.string()),
            ("onnx_sha256", pa.string()),
            ("backend", pa.string()),
            ("rtecho_version", pa.string()),
            ("error", pa.string()),
            ("node_id", pa.string()),
            ("worker_pid", pa.int32()),
            ("seconds", pa.float64()),
        ]
    )


def frame_schema() -> Any:
    pa = _pa()
    return pa.schema(
        [
            ("path", pa.string()),
            ("frame", pa.int32()),
            ("timestamp", pa.float64()),
            ("label", pa.string()),
            ("confidence", pa.float64()),
            ("smoothed_label", pa.string()),
            ("accepted", pa.bool_()),
            ("mode", pa.string()),
            ("error", pa.string()),
        ]
    )


def _table(rows: list[dict[str, Any]], schema: Any) -> Any:
    fixed = []
    for r in rows:
        r = {k: r.get(k) for k in schema.names}
        if "modes" in r and isinstance(r["modes"], dict):
            r["modes"] = list(r["modes"].items())
        fixed.append(r)
    return _pa().Table.from_pylist(fixed, schema=schema)


class _Part:
    """One Parquet output (OUT plus its OUT.parts folder)."""

    def __init__(self, out: Path, schema: Any) -> None:
        self.out = Path(out)
        self.parts = self.out.with_name(self.out.name + ".parts")
        self.schema = schema
        self.pending: list[dict[str, Any]] = []
        self.n_parts = 0

    def existing(self) -> list[Path]:
        files = [self.out] if self.out.exists() else []
        return files + (sorted(self.parts.glob("part-*.parquet")) if self.parts.is_dir() else [])

    def read(self) -> Any:
        tables = [_pq().read_table(p, schema=self.schema) for p in self.existing()]
        return _pa().concat_tables(tables) if tables else self.schema.empty_table()

    def flush(self) -> None:
        if not self.pending:
            return
        self.parts.mkdir(parents=True, exist_ok=True)
        name = self.parts / f"part-{time.time_ns()}-{os.getpid()}-{self.n_parts:05d}.parquet"
        tmp = name.with_suffix(".tmp")
        _pq().write_table(_table(self.pending, self.schema), tmp)
        os.replace(tmp, name)
        self.n_parts += 1
        self.pending = []

    def merge(self, drop_paths: set[str]) -> int:
        """Write OUT = previous OUT less the rows of ``drop_paths`` (files redone by this run) + the
        parts; for the file table the newest row of a path wins. Returns the number of rows."""
        self.flush()
        pa, pq = _pa(), _pq()
        parts = sorted(self.parts.glob("part-*.parquet")) if self.parts.is_dir() else []
        tables = [pq.read_table(p, schema=self.schema) for p in parts]
        if self.out.exists():
            old = pq.read_table(self.out, schema=self.schema)
            keep = [i for i, p in enumerate(old.column("path").to_pylist()) if p not in drop_paths]
            tables.insert(0, old.take(keep))
        table = pa.concat_tables(tables) if tables else self.schema.empty_table()
        by_frame = "frame" in self.schema.names
        if not by_frame and table.num_rows:
            last = {p: i for i, p in enumerate(table.column("path").to_pylist())}
            table = table.take(sorted(last.values()))
        if table.num_rows:
            keys = [("path", "ascending")] + ([("frame", "ascending")] if by_frame else [])
            table = table.sort_by(keys)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.out.with_name(self.out.name + ".tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, self.out)
        for p in parts:
            p.unlink()
        if self.parts.is_dir() and not any(self.parts.iterdir()):
            self.parts.rmdir()
        return table.num_rows


class ResultStore:
    """The file table (and optional frame table) of one batch job."""

    def __init__(self, out: str | Path, frames_out: str | Path | None = None, flush_every: int = 32) -> None:
        self.files = _Part(Path(out), file_schema())
        self.frames = _Part(Path(frames_out), frame_schema()) if frames_out else None
        self.flush_every = flush_every
        self.redone: set[str] = set()

    def done(self, include_errors: bool = True) -> dict[str, str | None]:
        """path -> error (None when the file was processed) of every row already written."""
        t = self.files.read()
        paths, errors = t.column("path").to_pylist(), t.column("error").to_pylist()
        return {p: e for p, e in zip(paths, errors, strict=True) if include_errors or e is None}

    def add(self, row: dict[str, Any], frames: Iterable[dict[str, Any]] = ()) -> None:
        self.files.pending.append(row)
        if self.frames is not None:
            self.frames.pending.extend(frames)
        if len(self.files.pending) >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        # frames first: a file row is only there once its frames are
        if self.frames is not None:
            self.frames.flush()
        self.files.flush()

    def finish(self) -> int:
        """Merge everything into the outputs; returns the number of file rows."""
        if self.frames is not None:
            self.frames.merge(self.redone)
        return self.files.merge(self.redone)
