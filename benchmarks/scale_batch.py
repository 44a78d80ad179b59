"""`rtecho batch` throughput against a plain loop of `rtecho run` subprocesses, over the same files, in one run.

    python benchmarks/scale_batch.py --clips 200 --frames 32 --size 112      # the acceptance scale
    python benchmarks/scale_batch.py --clips 20 --frames 16 --size 64        # a quick look

Files: ``--clips`` simulator cines (AVI/MP4/DICOM in turn, rendered once into ``--work`` and reused)
plus every DICOM of pydicom's examples and of pydicom-data (real files; those without pixel data
are error rows in both). Both sides run as whole commands, start-up included: the loop runs
``python -m rtecho.cli run FILE --jsonl ...`` once per file; the batch runs ``python -m rtecho.cli
batch FILES... --out ... --frames-out ...`` (a local Ray instance on every core). The per-frame labels
of the two are compared file by file. Prints videos/s and frames/s of each, the ratio, and
``uptime``; ``--json OUT`` saves it all.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def real_dicoms() -> list[Path]:
    files: list[Path] = []
    try:
        import pydicom.examples as ex

        for name in ("ct", "mr", "jpeg2k", "overlay", "palette_color", "rgb_color", "rt_dose", "ybr_color"):
            files.append(Path(ex.get_path(name)))
        files += [Path(ex.get_path(n)) for n in ("dicomdir", "no_meta", "rt_plan", "rt_ss", "waveform")]
    except ImportError:
        pass
    try:
        import importlib.util

        spec = importlib.util.find_spec("data_store")  # pydicom-data
        if spec and spec.submodule_search_locations:
            root = Path(next(iter(spec.submodule_search_locations)))
            files += sorted(root.rglob("*.dcm"))
    except ImportError:
        pass
    return files


def make_clips(work: Path, n: int, frames: int, size: int) -> list[Path]:
    from rtecho.synth.cine import render_cine
    from rtecho.synth.export import write_cine
    from rtecho.views import VIEWS

    folder = work / f"clips_{frames}f_{size}px"
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    views = [v for v in VIEWS if v != "OTHER"]
    for i in range(n):
        fmt = ("avi", "mp4", "dcm")[i % 3]
        path = folder / f"sim{i:05d}.{fmt}"
        if not path.exists():
            c = render_cine(
                views[i % len(views)], np.random.default_rng(i), n_frames=frames, fps=30, size_hw=(size, size)
            )
            write_cine(folder, path.stem, c, [fmt])
        out.append(path)
    return out


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), e.get("PYTHONPATH")]))
    e.setdefault("OMP_NUM_THREADS", "1")
    return e


def run_loop(files: list[Path], out: Path, extra: list[str]) -> tuple[float, dict[str, list[str]]]:
    out.mkdir(parents=True, exist_ok=True)
    labels: dict[str, list[str]] = {}
    t0 = time.perf_counter()
    for i, f in enumerate(files):
        j = out / f"{i:05d}.jsonl"
        cmd = [sys.executable, "-m", "rtecho.cli", "run", str(f), "--no-progress", "--jsonl", str(j), *extra]
        subprocess.run(cmd, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    wall = time.perf_counter() - t0
    for i, f in enumerate(files):
        j = out / f"{i:05d}.jsonl"
        recs = [json.loads(line) for line in j.read_text().splitlines()] if j.exists() else []
        labels[str(f.resolve())] = [r.get("label") for r in recs]
    return wall, labels


def run_batch(
    files: list[Path], out: Path, extra: list[str], num_cpus: int | None
) -> tuple[float, dict, str]:
    import pyarrow.parquet as pq

    for p in (out / "files.parquet", out / "frames.parquet"):
        if p.exists():
            p.unlink()
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "rtecho.cli", "batch", *map(str, files), "--out", str(out / "files.parquet")]
    cmd += ["--frames-out", str(out / "frames.parquet"), "--no-progress", *extra]
    if num_cpus:
        cmd += ["--num-cpus", str(num_cpus)]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=7200)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"rtecho batch failed: {r.stderr[-2000:]}")
    labels: dict[str, list[str]] = {}
    for row in pq.read_table(out / "frames.parquet", columns=["path", "frame", "label"]).to_pylist():
        labels.setdefault(row["path"], []).append(row["label"])
    return wall, labels, r.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", type=int, default=200, help="simulator clips (default 200)")
    ap.add_argument("--frames", type=int, default=32, help="frames per clip (default 32)")
    ap.add_argument("--size", type=int, default=112, help="clip size in pixels (default 112, as EchoNet)")
    ap.add_argument("--no-real", action="store_true", help="leave out pydicom's and pydicom-data's DICOMs")
    ap.add_argument("--ultrasound", action="store_true", help="both sides with --ultrasound")
    ap.add_argument(
        "--num-cpus", type=int, default=None, help="CPUs of the batch's Ray instance (default all)"
    )
    ap.add_argument("--work", type=Path, default=Path("/tmp/rtecho-bench-batch"), help="clips and outputs")
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    args = ap.parse_args(argv)

    files = make_clips(args.work, args.clips, args.frames, args.size) + (
        [] if args.no_real else real_dicoms()
    )
    extra = ["--ultrasound"] if args.ultrasound else []
    load_before = os.getloadavg()
    loop_s, loop_labels = run_loop(files, args.work / "loop", extra)
    batch_s, batch_labels, batch_line = run_batch(files, args.work / "batch", extra, args.num_cpus)
    load_after = os.getloadavg()
    n_frames = sum(len(v) for v in loop_labels.values())
    keys = [str(f.resolve()) for f in files]
    same = sum(loop_labels[k] == batch_labels.get(k, []) for k in keys)
    differ = [k for k in keys if loop_labels[k] != batch_labels.get(k, [])]
    res = {
        "files": len(files),
        "simulator_clips": args.clips,
        "frames_per_clip": args.frames,
        "size": args.size,
        "frames_total": n_frames,
        "loop_s": round(loop_s, 2),
        "batch_s": round(batch_s, 2),
        "loop_videos_per_s": round(len(files) / loop_s, 3),
        "batch_videos_per_s": round(len(files) / batch_s, 3),
        "loop_frames_per_s": round(n_frames / loop_s, 1),
        "batch_frames_per_s": round(n_frames / batch_s, 1),
        "speedup": round(loop_s / batch_s, 2),
        "labels_identical_files": same,
        "labels_differ": differ[:10],
        "batch_summary": batch_line,
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
        "cpus": os.cpu_count(),
    }
    print(
        f"{len(files)} files ({args.clips} simulator clips of {args.frames} frames at {args.size}px + "
        f"{len(files) - args.clips} real DICOMs), {n_frames} frames\n"
        f"  loop of `rtecho run`: {loop_s:8.1f} s  {res['loop_videos_per_s']:7.2f} videos/s  {res['loop_frames_per_s']:8.1f} frames/s\n"
        f"  rtecho batch (Ray):   {batch_s:8.1f} s  {res['batch_videos_per_s']:7.2f} videos/s  {res['batch_frames_per_s']:8.1f} frames/s\n"
        f"  speed-up {res['speedup']:.2f}x; per-frame labels identical in {same}/{len(files)} files\n"
        f"  {batch_line}\n  load: {res['uptime']}"
    )
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
    return 0 if same == len(files) else 1


if __name__ == "__main__":
    sys.exit(main())
