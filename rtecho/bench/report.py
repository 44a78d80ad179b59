"""Tables, the JSON document (schema: ``rtecho/bench/schema.json``) and the latency CDF plot."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rtecho.bench.multi import BatchResult, StreamsResult
from rtecho.bench.runner import BenchResult

SCHEMA_PATH = Path(__file__).with_name("schema.json")
SCHEMA_VERSION = 1

#: (header, width) of the main table, in order.
COLUMNS: tuple[tuple[str, int], ...] = (
    ("model", 22),
    ("backend", 17),
    ("input", 8),
    ("params", 8),
    ("GFLOPs", 7),
    ("thr", 4),
    ("inf p50", 8),
    ("inf p95", 8),
    ("inf p99", 8),
    ("e2e p50", 8),
    ("e2e p99", 8),
    ("fps", 7),
    ("drop", 5),
    ("miss", 5),
    ("acc", 6),
    ("x torch", 8),
    ("GFLOP/s", 8),
    ("%peak", 6),
)


def _f(v: float | None, fmt: str) -> str:
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, fmt)


def _k(n: int | None) -> str:
    if n is None:
        return "?"
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.1f}k"


def _row(cells: Sequence[str]) -> str:
    out = []
    for (name, width), cell in zip(COLUMNS, cells, strict=True):
        out.append(cell.ljust(width) if name in ("model", "backend") else cell.rjust(width))
    return "".join(out)


def format_table(results: Sequence[BenchResult]) -> str:
    """The latency table (ms), one block per clip.

    ``acc`` is per-frame accuracy on the labelled clip; ``x torch`` the infer-p50 speed-up over torch
    eager (same model and threads, same run); ``%peak`` the achieved GFLOP/s over the GEMM peak at the
    engine's thread count.
    """
    head = _row([name for name, _ in COLUMNS])
    lines = [head, "-" * len(head)]
    clips = list(dict.fromkeys(r.clip for r in results))
    for clip in clips:
        rows = [r for r in results if r.clip == clip]
        r0 = rows[0]
        mode = "lockstep" if r0.mode == "lockstep" else f"paced at {r0.pace_fps:.1f} fps"
        lines.append(f"[{clip}, {mode}]")
        for r in rows:
            mark = {"untrained": "*", "random": "+"}.get(r.weights, "") + ("!" if r.not_offered else "")
            lines.append(
                _row(
                    [
                        r.model + mark,
                        f"{r.backend}/{r.precision}",
                        "x".join(map(str, r.input_size_hw)),
                        _k(r.params),
                        _f(r.flops / 1e9 if r.flops else None, ".3f"),
                        _f(r.threads, "d"),
                        _f(r.stat("infer", "p50"), ".3f"),
                        _f(r.stat("infer", "p95"), ".3f"),
                        _f(r.stat("infer", "p99"), ".3f"),
                        _f(r.stat("end_to_end", "p50"), ".3f"),
                        _f(r.stat("end_to_end", "p99"), ".3f"),
                        _f(r.fps, ".1f"),
                        str(r.dropped),
                        _f(r.deadline_misses, "d"),
                        _f(None if r.weights == "random" else r.accuracy, ".3f"),
                        _f(r.speedup_vs_torch, ".1f"),
                        _f(r.achieved_gflops, ".1f"),
                        _f(r.fraction_of_peak * 100 if r.fraction_of_peak is not None else None, ".1f"),
                    ]
                )
            )
    notes = ["times in ms; e2e = frame arrival to result; miss = results later than one frame period"]
    if any(r.weights == "untrained" for r in results):
        notes.append("* untrained weights: timing only, accuracy is chance level")
    if any(r.precision != "fp32" and r.fraction_of_peak is not None for r in results):
        notes.append(
            "%peak is against the fp32 GEMM peak; bf16/int8 rows can exceed 100% (their own peak is higher)"
        )
    if any(r.not_offered for r in results):
        notes.append(
            "! a precision the backend runs but does not offer for this model (slower than fp32 there)"
        )
    if any(r.weights == "random" for r in results):
        notes.append("+ torch eager rebuilt from the card with random weights: the speed-up baseline")
    return "\n".join(lines + notes)


#: Stages of the screen table's breakdown, in pipeline order.
SCREEN_STAGES = ("wait", "preprocess", "infer", "postprocess", "end_to_end")


def format_screens(results: Sequence[BenchResult]) -> str:
    """The full-resolution screen rows (ultrasound stage on, paced): p50/p99 of each stage, so that
    a reader sees where the frame budget goes (``wait``: arrival to start of processing;
    ``preprocess``: sector tracking, mode gate, crop and the card's preprocessing)."""
    head = (
        f"{'model':<10}{'backend':<18}{'screen':<22}"
        + "".join(f"{s.replace('end_to_end', 'e2e')[:7] + ' p50/p99':>17}" for s in SCREEN_STAGES)
        + f"{'late':>6}{'drop':>6}"
    )
    lines = ["[full-resolution screens, ultrasound stage on, paced at the clip's fps]", head, "-" * len(head)]
    for r in results:
        cells = "".join(
            f"{_f(r.stat(s, 'p50'), '.2f') + '/' + _f(r.stat(s, 'p99'), '.2f'):>17}" for s in SCREEN_STAGES
        )
        lines.append(
            f"{r.model:<10}{r.backend + '/' + r.precision + ('!' if r.not_offered else ''):<18}{r.clip:<22}{cells}"
            f"{_f(r.deadline_misses, 'd'):>6}{r.dropped:>6}"
        )
    lines.append("times in ms; late = results later than one frame period after arrival")
    if any(r.not_offered for r in results):
        lines.append(
            "! a precision the backend runs but does not offer for this model (slower than fp32 there)"
        )
    return "\n".join(lines)


def format_streams(runs: Sequence[StreamsResult], per_stream: bool = True) -> str:
    """Multi-stream runs: one summary line per run (median e2e p50 and worst e2e p99 over its
    streams), and with ``per_stream`` one line per stream below it."""
    import numpy as np

    head = (
        f"{'model':<22}{'backend':<18}{'N':>4}{'stream':>7}{'frames':>7}{'e2e p50':>9}{'e2e p99':>9}"
        f"{'inf p50':>9}{'drop':>6}{'miss':>6}  verdict"
    )
    lines = [head, "-" * len(head)]
    for run in runs:
        s = run.streams
        verdict = "ok" if run.ok else "MISSED"
        lines.append(
            f"{run.model:<22}{run.backend + '/' + run.precision:<18}{run.n_streams:>4}{'all':>7}"
            f"{sum(x.frames for x in s):>7}{np.median([x.e2e.p50 for x in s]):>9.3f}"
            f"{max(x.e2e.p99 for x in s):>9.3f}{np.median([x.infer.p50 for x in s]):>9.3f}"
            f"{run.dropped:>6}{run.deadline_misses:>6}  {verdict}{' (shared engine)' if run.shared_engine else ''}"
        )
        if per_stream:
            for x in s:
                lines.append(
                    f"{'':<40}{'':>4}{x.stream:>7}{x.frames:>7}{x.e2e.p50:>9.3f}{x.e2e.p99:>9.3f}"
                    f"{x.infer.p50:>9.3f}{x.dropped:>6}{x.deadline_misses:>6}"
                )
    lines.append(
        f"streams at {runs[0].fps:g} fps each; a miss is a result later than one frame period" if runs else ""
    )
    return "\n".join(lines)


def format_batch(results: Sequence[BatchResult]) -> str:
    lines = [f"{'model':<22}{'backend':<18}{'thr':>4}{'batch':>6}{'p50 ms':>9}{'p99 ms':>9}{'images/s':>10}"]
    for b in results:
        lines.append(
            f"{b.model:<22}{b.backend + '/' + b.precision:<18}{_f(b.threads, 'd'):>4}{b.batch:>6}"
            f"{b.latency.p50:>9.3f}{b.latency.p99:>9.3f}{b.images_per_s:>10.1f}"
        )
    return "\n".join(lines)


def build_document(
    environment: dict[str, Any],
    settings: dict[str, Any],
    *,
    peaks: dict | None = None,
    clips: Sequence[Any] = (),
    results: Sequence[BenchResult] = (),
    batch: Sequence[BatchResult] = (),
    streams: Sequence[StreamsResult] = (),
    max_streams: dict[str, int] | None = None,
    skipped: Sequence[dict[str, str]] = (),
    wall_s: float | None = None,
) -> dict[str, Any]:
    """The ``--json`` document: everything needed to compare this run with another machine's."""
    return {
        "schema_version": SCHEMA_VERSION,
        "environment": environment,
        "settings": settings,
        "cpu_peak_gflops": [p.to_dict() for p in (peaks or {}).values()],
        "clips": [c.to_dict() for c in clips],
        "results": [r.to_dict() for r in results],
        "batch": [b.to_dict() for b in batch],
        "streams": [s.to_dict() for s in streams],
        "max_streams": dict(max_streams or {}),
        "skipped": list(skipped),
        "wall_s": None if wall_s is None else round(wall_s, 2),
    }


def load_schema() -> dict[str, Any]:
    """The JSON schema the ``--json`` document follows."""
    return json.loads(SCHEMA_PATH.read_text())


def write_json(doc: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n")
    return path


def write_plot(results: Sequence[BenchResult], path: str | Path) -> Path:
    """Latency CDF per stage (a 2x2 grid of panels; one line per configuration, line style per
    clip) as PNG, with the legend below the panels."""
    from rtecho._lazy import require

    matplotlib = require("matplotlib", "plot", "--plot")
    matplotlib.use("Agg")
    plt = require("matplotlib.pyplot", "plot", "--plot")
    ticker = require("matplotlib.ticker", "plot", "--plot")
    import numpy as np

    stages = ("preprocess", "infer", "postprocess", "end_to_end")
    keys = list(dict.fromkeys(f"{r.model} {r.backend}/{r.precision} thr {r.threads}" for r in results))
    clips = list(dict.fromkeys(r.clip for r in results))
    cmap = plt.get_cmap("tab20" if len(keys) > 10 else "tab10")
    styles = ("-", "--", ":", "-.")
    ncol = 3
    legend_in = 0.22 * (-(-len(keys) // ncol) + 1)
    fig = plt.figure(figsize=(12, 7.5 + legend_in))
    grid = fig.add_gridspec(3, 2, height_ratios=(3.6, 3.6, legend_in + 0.3))
    for k, stage in enumerate(stages):
        ax = fig.add_subplot(grid[k // 2, k % 2])
        for r in results:
            v = np.sort(r.samples.get(stage, np.empty(0)))
            if v.size:
                key = f"{r.model} {r.backend}/{r.precision} thr {r.threads}"
                color = cmap(keys.index(key) % cmap.N)
                ax.plot(
                    v,
                    np.arange(1, v.size + 1) / v.size,
                    color=color,
                    ls=styles[clips.index(r.clip) % 4],
                    lw=1.2,
                )
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_title(stage.replace("_", "-") + " latency")
        ax.set_xlabel("ms (log scale)")
        ax.set_ylabel("fraction of frames")
        ax.grid(True, which="both", alpha=0.3)
    leg = fig.add_subplot(grid[2, :])
    leg.axis("off")
    handles = [plt.Line2D([], [], color=cmap(i % cmap.N), lw=2) for i in range(len(keys))]
    handles += [plt.Line2D([], [], color="k", ls=styles[i % 4]) for i in range(len(clips))]
    leg.legend(
        handles,
        keys + [f"clip: {c}" for c in clips],
        loc="upper center",
        ncol=ncol,
        fontsize=8,
        frameon=False,
    )
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
