"""Concurrent 30 fps streams in-process against through `rtecho serve`, same model, in one run.

    python benchmarks/scale_serve.py --model darts2 --max-streams 64 --max-seconds 240   # full
    python benchmarks/scale_serve.py --model darts2 --max-streams 16 --max-seconds 60    # a quick look

Both sides use the bench's multi-stream runner (:func:`rtecho.bench.multi.find_max_streams`): N
streams, each its own stream processor fed at 30 fps (live, ``latest``), N raised until a stream
misses a deadline (a result later than one frame period after the frame's arrival) or drops a frame.
In-process: one ONNX Runtime engine per stream (as ``python -m rtecho.bench --find-max-streams``).
Served: a local Ray instance runs ``rtecho serve`` (one replica, ``@serve.batch``) and every stream
of this scanner process shares one ``serve`` engine, which coalesces the streams' frames into
requests. Prints the largest N of each, per-stream p50/p99 end-to-end at a common N, the batch
sizes the service formed (images per batch), and ``uptime``; ``--json OUT`` saves it all.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rtecho.bench.clips import load_a4c_clip  # noqa: E402
from rtecho.bench.multi import StreamsResult, find_max_streams, run_streams  # noqa: E402
from rtecho.bench.runner import BenchConfig  # noqa: E402


@dataclass(frozen=True)
class ServedConfig(BenchConfig):
    """A bench configuration whose engines are ``serve`` clients of ``address``."""

    address: str = ""

    def engine(self):
        from rtecho.runtime import load_engine

        return load_engine(self.model, backend="serve", precision=self.precision, address=self.address)


def _summary(res: StreamsResult) -> dict:
    p50 = [s.e2e.p50 for s in res.streams]
    p99 = [s.e2e.p99 for s in res.streams]
    return {
        "n_streams": res.n_streams,
        "ok": res.ok,
        "deadline_misses": res.deadline_misses,
        "dropped": res.dropped,
        "e2e_p50_ms_median_stream": round(float(np.median(p50)), 3),
        "e2e_p99_ms_worst_stream": round(float(np.max(p99)), 3),
    }


def _stats(url: str) -> Counter:
    with urllib.request.urlopen(f"{url}/stats", timeout=10) as resp:
        return Counter({int(k): v for k, v in json.loads(resp.read())["batches"].items()})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="darts2")
    ap.add_argument("--frames", type=int, default=90, help="frames per stream per run (default 90: 3 s)")
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--max-streams", type=int, default=64)
    ap.add_argument(
        "--max-seconds", type=float, default=240.0, help="time bound of each search (default 240)"
    )
    ap.add_argument(
        "--compare-streams", type=int, default=4, help="N for the side-by-side latency (default 4)"
    )
    ap.add_argument("--max-batch", type=int, default=32, help="service batch size bound (images)")
    ap.add_argument("--batch-wait-ms", type=float, default=2.0)
    ap.add_argument("--replica-cpus", type=float, default=1.0)
    ap.add_argument("--port", type=int, default=18800)
    ap.add_argument("--skip-inprocess", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    clip = load_a4c_clip()
    local = BenchConfig(args.model, "onnxruntime")
    out: dict = {
        "model": args.model,
        "fps": args.fps,
        "frames_per_stream": args.frames,
        "cpus": os.cpu_count(),
    }
    out["loadavg_start"] = os.getloadavg()

    def show(tag: str):
        return lambda r: print(
            f"  {tag}: {r.n_streams:3d} streams  ok={r.ok}  misses={r.deadline_misses} dropped={r.dropped}",
            flush=True,
        )

    if not args.skip_inprocess:
        print("in-process (one ONNX Runtime engine per stream):", flush=True)
        n_local, runs = find_max_streams(
            local,
            clip,
            args.frames,
            args.fps,
            args.max_streams,
            args.max_seconds,
            progress=show("in-process"),
        )
        out["inprocess_max_streams"] = n_local
        out["inprocess_runs"] = [_summary(r) for r in runs]
        out["inprocess_compare"] = _summary(
            run_streams(local, clip, args.compare_streams, args.frames, args.fps)
        )

    from rtecho.scale.cluster import connect
    from rtecho.scale.serve import start_service, stop_service

    connect(None)
    url = start_service(
        args.model,
        port=args.port,
        max_batch=args.max_batch,
        batch_wait_ms=args.batch_wait_ms,
        num_cpus=args.replica_cpus,
    )
    try:
        served = ServedConfig(args.model, "serve", address=url)
        batches: list[dict] = []
        before = _stats(url)

        def note(r: StreamsResult) -> None:
            nonlocal before
            now = _stats(url)
            diff = now - before
            before = now
            batches.append({"n_streams": r.n_streams, "batch_sizes": dict(sorted(diff.items()))})
            show("served")(r)

        print(f"served ({url}; one shared serve engine per scanner process):", flush=True)
        n_served, runs = find_max_streams(
            served,
            clip,
            args.frames,
            args.fps,
            args.max_streams,
            args.max_seconds,
            shared_engine=True,
            progress=note,
        )
        out["served_max_streams"] = n_served
        out["served_runs"] = [_summary(r) | b for r, b in zip(runs, batches, strict=True)]
        before = _stats(url)
        cmp = run_streams(served, clip, args.compare_streams, args.frames, args.fps, shared_engine=True)
        out["served_compare"] = _summary(cmp) | {"batch_sizes": dict(sorted((_stats(url) - before).items()))}
        total = _stats(url)
        out["served_batch_sizes_total"] = dict(sorted(total.items()))
    finally:
        stop_service()
    out["loadavg_end"] = os.getloadavg()
    out["uptime"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    total = out["served_batch_sizes_total"]
    images = sum(k * v for k, v in total.items())
    print(f"\nmodel {args.model}, {args.fps:g} fps streams of {args.frames} frames; load: {out['uptime']}")
    if "inprocess_max_streams" in out:
        c = out["inprocess_compare"]
        print(
            f"  in-process: max {out['inprocess_max_streams']} streams with zero misses; at N={args.compare_streams}: e2e p50 {c['e2e_p50_ms_median_stream']} ms, p99 {c['e2e_p99_ms_worst_stream']} ms"
        )
    c = out["served_compare"]
    print(
        f"  served:     max {n_served} streams with zero misses; at N={args.compare_streams}: e2e p50 {c['e2e_p50_ms_median_stream']} ms, p99 {c['e2e_p99_ms_worst_stream']} ms"
    )
    print(
        f"  service batches (images per batch: count): {total}; mean {images / max(1, sum(total.values())):.2f} images/batch"
    )
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
