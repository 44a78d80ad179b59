"""Does a live stream keep its memory flat? RSS of a push-API stream, sampled over time.

A host thread pushes the bundled sample clip (looped) into ``StreamProcessor.submit`` at ``--fps``
(paced like a scanner), with the ultrasound stage on (sector, mode gate, calibration, smoothing),
and polls the results, as scanner software would. The process's resident set size is recorded at
the start and every ``--interval`` seconds; the slope after ``--warmup`` seconds is the least
squares fit ``rss = a + b t`` over the samples at or after the warm-up, reported as MB/hour
(goal: < 1 MB/hour). Nothing else runs in the process.

Run (an hour, the acceptance figure)::

    nice -n 5 python benchmarks/rss_stream.py --minutes 60 --out benchmarks/results/rss-stream.json

A short check: ``--minutes 5 --interval 10 --warmup 60``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import threading
import time
from pathlib import Path

import numpy as np

MB = 1024 * 1024


def rss_bytes() -> int:
    """Resident set size of this process (Linux /proc; psutil elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import psutil

        return int(psutil.Process().memory_info().rss)


def slope_mb_per_hour(samples: list[tuple[float, float]], warmup_s: float) -> float | None:
    """Least-squares slope (MB/hour) of ``(t_s, rss_mb)`` samples taken at or after ``warmup_s``."""
    pts = np.array([(t, m) for t, m in samples if t >= warmup_s], np.float64)
    if len(pts) < 2:
        return None
    t, m = pts[:, 0], pts[:, 1]
    b = np.sum((t - t.mean()) * (m - m.mean())) / np.sum((t - t.mean()) ** 2)
    return float(b * 3600.0)


def clip_images(path: str, limit: int) -> list[np.ndarray]:
    from rtecho.bench.clips import load_clip
    from rtecho.errors import SourceError

    try:
        return [f.image for f in load_clip(path, max_frames=limit).frames]
    except SourceError:
        raise SystemExit(f"no frame in {path}") from None


def paced_images(images: list[np.ndarray], fps: float, stop: threading.Event):
    """The clip looped for ever, frame ``i`` released at ``t0 + i / fps`` (the package's pacing
    generator when it has one; a local copy for older trees)."""
    import itertools

    from rtecho.types import Frame

    frames = (Frame(images[i % len(images)], index=i, timestamp=i / fps) for i in itertools.count())
    try:
        from rtecho.io.pacing import paced
    except ImportError:  # the code before the stream runner was unified

        def paced(frames, fps=None, stop=None):
            t0 = time.perf_counter()
            for i, f in enumerate(frames):
                delay = t0 + i / fps - time.perf_counter()
                if delay > 0 and stop.wait(delay):
                    return
                yield f

    yield from paced(frames, fps=fps, stop=stop)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--interval", type=float, default=60.0, help="seconds between RSS samples")
    p.add_argument("--warmup", type=float, default=300.0, help="seconds before the slope fit starts")
    p.add_argument("--fps", type=float, default=30.0)
    p.add_argument("--model", default=None, help="model name or ONNX path (default: the default model)")
    p.add_argument("--clip", default=None, help="video to loop (default: the bundled sample clip)")
    p.add_argument("--no-ultrasound", action="store_true")
    p.add_argument("--label", default="", help="a note stored in the JSON (e.g. the commit)")
    p.add_argument("--out", default=None, help="write the JSON here")
    args = p.parse_args(argv)

    import rtecho
    from rtecho.pipeline import StreamProcessor, build_pipeline
    from rtecho.runtime import DEFAULT_MODEL, load_engine

    clip = args.clip or str(Path(rtecho.__file__).parent / "data" / "sample_clip.avi")
    images = clip_images(clip, limit=300)
    engine = load_engine(args.model or DEFAULT_MODEL, threads=1)
    kw = {"pipeline": build_pipeline(engine, ultrasound=not args.no_ultrasound)}
    duration = args.minutes * 60.0
    samples: list[tuple[float, float]] = []
    counts = {"submitted": 0, "results": 0, "ok": 0, "errors": 0}
    stop = threading.Event()
    with StreamProcessor(engine, policy="latest", **kw) as proc:
        proc.start(fps=args.fps)
        t0 = time.perf_counter()
        next_sample = 0.0
        for frame in paced_images(images, args.fps, stop):
            now = time.perf_counter() - t0
            if now >= next_sample:
                samples.append((round(now, 3), rss_bytes() / MB))
                print(f"{now:8.1f} s  rss {samples[-1][1]:8.2f} MB  frames {counts['submitted']}", flush=True)
                next_sample += args.interval
                if now >= duration:
                    break
            proc.submit(frame.image, timestamp=frame.timestamp)
            counts["submitted"] += 1
            for pred in proc.poll():
                counts["results"] += 1
                counts["ok" if pred.ok else "errors"] += 1
        summary = proc.stop()
        for pred in proc.poll():
            counts["results"] += 1
            counts["ok" if pred.ok else "errors"] += 1
    stop.set()
    slope = slope_mb_per_hour(samples, args.warmup)
    s = summary.to_dict()
    out = {
        "benchmark": "rss_stream",
        "label": args.label,
        "rtecho": rtecho.__file__,
        "model": engine.card.name,
        "backend": s["backend"],
        "ultrasound": not args.no_ultrasound,
        "fps": args.fps,
        "minutes": args.minutes,
        "interval_s": args.interval,
        "warmup_s": args.warmup,
        "slope_mb_per_hour": None if slope is None else round(slope, 3),
        "rss_start_mb": round(samples[0][1], 2),
        "rss_end_mb": round(samples[-1][1], 2),
        "counts": counts,
        "summary": {k: s[k] for k in ("frames_read", "processed", "dropped", "errors", "fps")},
        "end_to_end_ms": s["latency_ms"].get("end_to_end"),
        "samples": [[t, round(m, 3)] for t, m in samples],
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "loadavg": os.getloadavg(),
    }
    text = json.dumps(out, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
