"""The cardiac rows of ``python -m rtecho.bench --ef``: the LV segmenter alone, and classify + segment
through the full pipeline, on the sample clip and the real A4C cines.

- ``segmenter`` rows: :class:`~rtecho.cardiac.segment.LVSegmenter` on each frame (sector tracking,
  crop, preprocessing, the engine, the mask back at the source size): ``infer`` is the engine call,
  ``e2e`` the whole segmentation of the frame;
- ``classify``, ``classify+segment`` and ``classify+seg gated`` rows: the stream processor, paced at the
  clip's frame rate as a scanner sends (``latest`` policy: a live stream, so the deferred sector and
  mode work runs between frames, as it does for a user's live source), with the ultrasound stages, without and with the cardiac stages
  (``build_pipeline(..., ef=True)``). In ``classify+segment`` the segmenter runs on every frame
  (``segment={"view": "A4C"}``: the worst case, whatever the classifier says); in ``classify+seg gated``
  only where the classifier's smoothed view is apical (the default). ``infer`` is the classifier and the
  segmenter together, ``e2e`` the frame's end to end (wait + stages; frames decoded beforehand),
  ``segment`` the segment stage on the frames it segmented and ``cardiac`` the segment and beats stages (from the
  pipeline's per-stage times; a frame the gate skips counts its beats stage only); ``segmented`` (in
  the JSON) the share of frames segmented. With two or more cores the segmenter's engine runs on its
  own thread beside the classifier (:class:`~rtecho.pipeline.cardiac.SegmentStage`): ``segment`` is
  then the time the stage adds to the frame (its input, the wait for the engine, the mask) and the
  JSON's ``segment_worker`` the engine's own time on that thread.

Every row also gives the CPU time per frame (``time.process_time``, all threads of the process), so
that a loaded machine (other processes taking the cores) can be told from a slow pipeline; the load
average is printed with the table. The two pipeline rows of a clip run one after the other in the same
run: compare them as a ratio.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rtecho.bench.clips import Clip

#: Acceptance (issue 14): classify + segment e2e p99 < 13 ms per frame, the segmenter alone p99 < 5 ms.
E2E_LIMIT_MS = 13.0
SEG_LIMIT_MS = 5.0


@dataclass
class CardiacRow:
    row: str  # segmenter, classify, classify+segment
    models: str
    clip: str
    size_hw: tuple[int, int]
    frames: int
    ms: dict[str, np.ndarray] = field(default_factory=dict)  # per-frame samples by measure
    cpu_ms_per_frame: float = float("nan")
    wall_s: float = 0.0
    segmented: float | None = None  # share of frames the segmenter ran on (pipeline rows with it)
    late: int | None = None  # paced pipeline rows: results later than one frame period
    dropped: int | None = None  # paced pipeline rows: frames the latest policy dropped

    def stat(self, key: str, q: float) -> float | None:
        v = self.ms.get(key)
        return None if v is None or not len(v) else float(np.percentile(v, q))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "row": self.row,
            "models": self.models,
            "clip": self.clip,
            "size_hw": list(self.size_hw),
            "frames": self.frames,
            "cpu_ms_per_frame": round(self.cpu_ms_per_frame, 3),
            "wall_s": round(self.wall_s, 3),
        }
        if self.segmented is not None:
            out["segmented"] = round(self.segmented, 3)
        if self.late is not None:
            out["late"], out["dropped"] = self.late, self.dropped
        for k in self.ms:
            out[k] = {"p50": _r(self.stat(k, 50)), "p99": _r(self.stat(k, 99))}
        return out


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def cardiac_clips(max_frames: int | None = None) -> list[Clip]:
    """The sample clip, pydicom's 30-frame real A4C cine and pydicom-data's 120-frame one (when installed)."""
    from rtecho.bench import clips as clipmod
    from rtecho.errors import MissingExtraError

    out = [clipmod.load_sample_clip(max_frames)]
    with contextlib.suppress(MissingExtraError):
        out.append(clipmod.load_a4c_clip(max_frames))
    with contextlib.suppress(MissingExtraError):
        out.append(
            clipmod.load_clip(clipmod.pydicom_data_a4c(), name="A4C 640x480 (real)", max_frames=max_frames)
        )
    return out


def bench_segmenter(seg_path: str, clips: Sequence[Clip], n_frames: int, warmup: int) -> list[CardiacRow]:
    """The segmenter alone on each clip (looped to ``n_frames``)."""
    from rtecho.cardiac.segment import LVSegmenter
    from rtecho.runtime import load_engine

    rows = []
    with load_engine(seg_path) as engine:
        for clip in clips:
            seg = LVSegmenter(engine)
            infer: list[float] = []
            run = engine.infer

            def timed(x: np.ndarray, run=run, infer=infer) -> np.ndarray:
                t = time.perf_counter()
                out = run(x)
                infer.append((time.perf_counter() - t) * 1e3)
                return out

            seg.engine = _Timed(engine, timed)  # type: ignore[assignment]
            for i in range(warmup):
                seg.segment(clip.frames[i % clip.n_frames].image)
            infer.clear()
            e2e = []
            c0, w0 = time.process_time(), time.perf_counter()
            for i in range(n_frames):
                t = time.perf_counter()
                seg.segment(clip.frames[i % clip.n_frames].image)
                e2e.append((time.perf_counter() - t) * 1e3)
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            rows.append(
                CardiacRow(
                    "segmenter",
                    engine.card.name,
                    clip.name,
                    clip.size_hw,
                    n_frames,
                    {"infer": np.array(infer), "e2e": np.array(e2e)},
                    1e3 * cpu / n_frames,
                    wall,
                )
            )
    return rows


class _Timed:
    """The engine with its ``infer_map``/``_infer`` replaced by a timed ``infer`` (LVSegmenter calls those)."""

    def __init__(self, engine: Any, infer: Any) -> None:
        self._engine, self.infer_map, self.card = engine, infer, engine.card

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


def bench_pipeline(
    model: str, seg_path: str, clips: Sequence[Clip], n_frames: int, warmup: int, mode: str = "paced"
) -> list[CardiacRow]:
    """classify (ultrasound stages) and classify+segment (with the cardiac stages), per clip; ``mode``:
    ``paced`` at the clip's fps (the bench's rows) or ``lockstep`` (one frame in flight, no idle time
    between frames: every frame is processed, the tests' setting)."""
    from rtecho.bench.runner import run_clip, warm_up
    from rtecho.pipeline import StreamProcessor, build_pipeline
    from rtecho.runtime import load_engine

    rows = []
    engine, seg = load_engine(model), load_engine(seg_path)
    for clip in clips:
        for name, ef in (("classify", False), ("classify+segment", True), ("classify+seg gated", True)):
            opts: dict[str, Any] = {"ef": True, "engines": {"segment": seg}} if ef else {}
            if name == "classify+segment":
                opts["segment"] = {"view": "A4C"}
            pipe = build_pipeline(engine, ultrasound=True, **opts)
            seg_ms: list[float] = []
            card_ms: list[float] = []
            worker_ms: list[float] = []
            if ef:
                _time_stage(pipe, ("segment",), seg_ms, segmented_only=True)
                _time_stage(pipe, ("segment", "beats"), card_ms)
                _time_stage(pipe, ("segment_worker",), worker_ms, segmented_only=True)
            with StreamProcessor(engine, pipeline=pipe) as proc:
                warm_up(proc, clip, warmup)
                seg_ms.clear()
                card_ms.clear()
                worker_ms.clear()
                pipe.reset()
                c0, w0 = time.process_time(), time.perf_counter()
                collector, summary = run_clip(proc, clip, n_frames, mode, clip.fps, max_seconds=1e9)
                cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            s = collector.samples()
            ms = {"infer": s.get("infer", np.zeros(0)), "e2e": s.get("end_to_end", np.zeros(0))}
            if ef:
                ms["segment"] = np.array(seg_ms)
                ms["cardiac"] = np.array(card_ms)
                if worker_ms:  # the segmenter's engine on its own thread, beside the classifier (JSON only)
                    ms["segment_worker"] = np.array(worker_ms)
            models = engine.card.name + (f" + {seg.card.name}" if ef else "")
            n = max(summary.processed, 1)
            row = CardiacRow(
                name, models, clip.name, clip.size_hw, summary.processed, ms, 1e3 * cpu / n, wall
            )
            if ef:
                row.segmented = len(seg_ms) / n
            row.late, row.dropped = summary.deadline_misses, summary.dropped
            rows.append(row)
    return rows


def _time_stage(pipe: Any, names: tuple[str, ...], out: list[float], segmented_only: bool = False) -> None:
    """Record the ``names`` stages' own time per frame (the pipeline's ``stage_ms``, added) into ``out``
    (frames that ran none of them: nothing; ``segmented_only``: only frames the segmenter ran on)."""
    run = pipe.run

    def timed(frame: Any) -> Any:
        rec = run(frame)
        ms = [rec.stage_ms[n] for n in names if rec.stage_ms.get(n) is not None]
        if ms and not (segmented_only and getattr(rec, "lv_mask", None) is None):
            out.append(sum(ms))
        return rec

    pipe.run = timed


def format_rows(rows: Sequence[CardiacRow]) -> str:
    head = (
        f"{'row':<20}{'models':<22}{'clip':<22}{'frames':>6}  {'infer p50/p99':>15}  {'segment p50/p99':>15}"
        f"  {'cardiac p50/p99':>15}  {'e2e p50/p99':>15}  {'cpu/frame':>9}  {'seg%':>5}  {'late':>4}  {'drop':>4}"
    )
    lines = [
        "[cardiac: LV segmenter (per frame) and classify+segment (paced at the clip's fps); ms]",
        head,
        "-" * len(head),
    ]

    def pair(r: CardiacRow, k: str) -> str:
        a, b = r.stat(k, 50), r.stat(k, 99)
        return "-" if a is None else f"{a:.2f}/{b:.2f}"

    for r in rows:
        lines.append(
            f"{r.row:<20}{r.models[:21]:<22}{r.clip[:21]:<22}{r.frames:>6}  {pair(r, 'infer'):>15}  "
            f"{pair(r, 'segment'):>15}  {pair(r, 'cardiac'):>15}  {pair(r, 'e2e'):>15}  "
            f"{r.cpu_ms_per_frame:>9.2f}  {'-' if r.segmented is None else f'{100 * r.segmented:.0f}':>5}"
            f"  {'-' if r.late is None else r.late:>4}  {'-' if r.dropped is None else r.dropped:>4}"
        )
    return "\n".join(lines)


def acceptance(rows: Sequence[CardiacRow]) -> list[dict[str, Any]]:
    """Segmenter alone: infer p99 < 5 ms (and its e2e, shown); classify+segment: e2e p99 < 13 ms; per clip."""
    out = []
    for r in rows:
        if r.row == "segmenter":
            p99 = r.stat("infer", 99)
            out.append(
                {
                    "check": f"segmenter infer p99 < {SEG_LIMIT_MS:g} ms",
                    "clip": r.clip,
                    "p99": _r(p99),
                    "e2e_p99": _r(r.stat("e2e", 99)),
                    "ok": p99 is not None and p99 < SEG_LIMIT_MS,
                }
            )
        elif r.row in ("classify+segment", "classify+seg gated"):
            p99 = r.stat("e2e", 99)
            out.append(
                {
                    "check": f"classify+segment e2e p99 < {E2E_LIMIT_MS:g} ms, no late frame",
                    "clip": r.clip,
                    "p99": _r(p99),
                    "late": r.late,
                    "ok": p99 is not None and p99 < E2E_LIMIT_MS and not r.late,
                }
            )
    return out


def format_acceptance(checks: Sequence[dict[str, Any]]) -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    lines = [f"cardiac acceptance (load average now {load}, {os.cpu_count()} cores):"]
    for c in checks:
        extra = f" (segmenter e2e p99 {c['e2e_p99']} ms)" if "e2e_p99" in c else ""
        if c.get("late") is not None:
            extra += f", {c['late']} late"
        lines.append(f"  {'ok  ' if c['ok'] else 'FAIL'} {c['check']}: {c['clip']}: p99 {c['p99']} ms{extra}")
    return "\n".join(lines)


def run(args: Any) -> list[CardiacRow]:
    """The cardiac rows for ``python -m rtecho.bench --ef`` (``--ef-frames`` per row)."""
    from rtecho.pipeline.cardiac import default_segmenter_path
    from rtecho.runtime import DEFAULT_MODEL

    seg_path = getattr(args, "segmenter", None) or default_segmenter_path()
    model = (args.screen_models or [DEFAULT_MODEL])[0]
    clips = cardiac_clips(max_frames=args.ef_frames)
    rows = bench_segmenter(seg_path, clips, args.ef_frames, args.warmup)
    rows += bench_pipeline(model, seg_path, clips, args.ef_frames, args.warmup)
    print()
    print(format_rows(rows))
    print(format_acceptance(acceptance(rows)))
    return rows
