"""Before/after timing of the per-frame cardiac work (issue 14's acceptance), one rtecho tree per process.

    PYTHONPATH=TREE python benchmarks/ef_speed.py --frames 300 --tag after > out.json

Runs :func:`rtecho.bench.cardiac.bench_segmenter` and :func:`~rtecho.bench.cardiac.bench_pipeline` on
the bench's cardiac clips (the sample clip, pydicom's 320x240 A4C cine, pydicom-data's 640x480 one) and
prints one JSON document: the rows (wall p50/p99, CPU ms per frame) plus, for every pipeline row with
the cardiac stages, ``cardiac_ms``: the segment and beats stages' own time per frame added (so a tree
that measured the LV in the beats stage and one that measures it cheaper compare fairly), and the load
average before and after. Run an old and a new tree alternately in one session and compare the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--tag", default="")
    args = ap.parse_args(argv)
    import rtecho
    import rtecho.pipeline as pipeline_mod
    from rtecho.bench import cardiac
    from rtecho.pipeline.cardiac import default_segmenter_path
    from rtecho.runtime import DEFAULT_MODEL

    made: list[list[float]] = []
    build = pipeline_mod.build_pipeline

    def counted(*a, **kw):  # the segment + beats time of every frame of each pipeline built
        pipe = build(*a, **kw)
        out: list[float] = []
        made.append(out)
        run = pipe.run

        def timed(frame):
            rec = run(frame)
            ms = [rec.stage_ms[n] for n in ("segment", "beats") if rec.stage_ms.get(n) is not None]
            if ms:
                out.append(sum(ms))
            return rec

        pipe.run = timed
        return pipe

    pipeline_mod.build_pipeline = counted
    load0 = os.getloadavg()
    seg = default_segmenter_path()
    clips = cardiac.cardiac_clips(max_frames=args.frames)
    t0 = time.time()
    rows = cardiac.bench_segmenter(seg, clips, args.frames, args.warmup)
    prows = cardiac.bench_pipeline(DEFAULT_MODEL, seg, clips, args.frames, args.warmup)
    docs = [r.to_dict() for r in rows]
    for r, ms in zip(prows, made, strict=True):
        d = r.to_dict()
        if ms:
            v = np.array(ms[-r.frames :])
            d["cardiac_ms"] = {
                "p50": round(float(np.percentile(v, 50)), 3),
                "p99": round(float(np.percentile(v, 99)), 3),
            }
        docs.append(d)
    doc = {
        "tag": args.tag,
        "rtecho": os.path.dirname(rtecho.__file__),
        "frames": args.frames,
        "load_before": [round(x, 2) for x in load0],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "seconds": round(time.time() - t0, 1),
        "rows": docs,
    }
    json.dump(doc, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
