"""Old vs new per-frame stage latency in ONE process: the pre-refactor frame pipeline (issue 12; its
package extracted from git and renamed ``rtecho_old``) against ``build_pipeline(engine, ultrasound=True)``.

Alternating rounds of ``--frames`` frames of pydicom-data's real 640x480 A4C cine (the default model,
one thread, deferred re-estimates run between frames as the stream processor does). Prints, per
side, p50/p99 of the Prediction's ``preprocess``/``infer``/``postprocess`` and their sum, in ms of
wall clock and (a second set of rounds) of the thread's CPU time, and whether the probabilities are
bit-identical. Shared machine: read the ratios, with ``uptime``.

    python benchmarks/stage_ab.py --old d430763 --rounds 8
"""

from __future__ import annotations

import argparse
import importlib
import io
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def extract_old(commit: str, into: Path) -> None:
    """``rtecho/`` at ``commit`` as the package ``rtecho_old`` under ``into``."""
    tar = subprocess.run(
        ["git", "archive", commit, "rtecho"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        t.extractall(into, filter="data")
    (into / "rtecho").rename(into / "rtecho_old")
    for py in (into / "rtecho_old").rglob("*.py"):
        py.write_text(re.sub(r"\brtecho(?=[.\s])", "rtecho_old", py.read_text()))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--old", default="d430763", help="the commit before the stage refactor")
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--frames", type=int, default=160, help="frames per round (the first 10 not counted)")
    args = p.parse_args(argv)
    from rtecho.bench.clips import load_clip, pydicom_data_a4c
    from rtecho.pipeline import build_pipeline
    from rtecho.runtime import DEFAULT_MODEL, load_engine
    from rtecho.types import Frame

    tmp = Path(tempfile.mkdtemp(prefix="stage_ab_"))
    extract_old(args.old, tmp)
    sys.path.insert(0, str(tmp))
    old_rt = importlib.import_module("rtecho_old.runtime")
    old_stages = importlib.import_module("rtecho_old.pipeline.stages")
    old_us = importlib.import_module("rtecho_old.ultrasound.stage")
    old_types = importlib.import_module("rtecho_old.types")

    images = [f.image for f in load_clip(pydicom_data_a4c()).frames]
    new_engine, old_engine = (
        load_engine(DEFAULT_MODEL, threads=1),
        old_rt.load_engine(DEFAULT_MODEL, threads=1),
    )
    pipes = {
        "old": old_stages.FramePipeline(
            old_engine, preprocessor=old_us.UltrasoundPreprocessor.for_engine(old_engine)
        ),
        "new": build_pipeline(new_engine, ultrasound=True),
    }
    make = {"old": old_types.Frame, "new": Frame}
    groups = ("preprocess", "infer", "postprocess")
    res = {(n, c): {k: [] for k in (*groups, "stages")} for n in pipes for c in ("wall", "cpu")}
    probs: dict[str, list] = {n: [] for n in pipes}
    wall = time.perf_counter
    print("load before:", Path("/proc/loadavg").read_text().split()[:3])
    with new_engine, old_engine:
        for clock in ("wall", "cpu"):
            # both pipelines read time.perf_counter when they run: CPU rounds time each stage's thread CPU time
            time.perf_counter = wall if clock == "wall" else time.thread_time
            for r in range(args.rounds):
                for name in ("old", "new") if r % 2 == 0 else ("new", "old"):
                    pipe, out = pipes[name], res[(name, clock)]
                    pipe.reset()
                    for i in range(args.frames):
                        pred, _ = pipe(make[name](images[i % len(images)], index=i, timestamp=i / 30))
                        pipe.idle(lambda: False)
                        if clock == "wall" and r < 2:
                            probs[name].append(
                                None if pred.probabilities is None else pred.probabilities.tobytes()
                            )
                        if i >= 10:
                            t = pred.timings_ms
                            for k in groups:
                                out[k].append(t[k])
                            out["stages"].append(sum(t[k] for k in groups))
        time.perf_counter = wall
    print("load after: ", Path("/proc/loadavg").read_text().split()[:3])
    for (name, clock), cols in res.items():
        line = " | ".join(
            f"{k} p50 {np.percentile(v, 50):.3f} p99 {np.percentile(v, 99):.3f}" for k, v in cols.items()
        )
        print(f"{name} {clock:4s} (n={len(cols['stages'])}): {line}")
    print("probabilities bit-identical:", probs["new"] == probs["old"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
