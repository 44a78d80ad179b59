"""``python -m rtecho.bench peers``: rtecho and FAST side by side, same ONNX model, same real DICOM cine.

FAST (NTNU's medical image computing framework, PyPI ``pyfast``) runs in its own virtual
environment (``make peers`` creates ``.venv-peers``), as a worker process
(:mod:`rtecho.bench.peers_fast`) that answers in JSON; rtecho runs in this process. Both are
kept alive and run alternately, round after round, so that they see the same machine load; the
FAST worker is stopped (SIGSTOP) while rtecho runs, since its idle threads still use CPU.

Each side, each round:

- **lockstep**: every decoded frame of the cine (cycled to ``--frames``) is handed to the
  pipeline synchronously and the call is timed: frame in, class out (rtecho:
  ``StreamProcessor.process`` - grey conversion, resize, normalise, infer, softmax; FAST:
  ``setInputData`` + ``runAndGetOutputData`` of its ImageClassificationNetwork - resize with
  smoothing, normalise, infer). Percentiles are over every frame of every round.
- **streamed**: the DICOM file decoded and classified end to end, as fast as it goes (rtecho:
  DicomSource -> StreamProcessor, ``block`` policy; FAST: its DICOM multi-frame streamer, looping,
  -> network via a DataStream, stopped on the frame count): frames per second after warm-up.

FAST's bundled OpenVINO (2023.0) cannot read an opset-18 model: a copy with the ``axes`` of
Reduce* nodes moved back into attributes (opset 17) is written to a temporary folder and checked
against the original with ONNX Runtime; FAST's ONNX Runtime engine and rtecho read the original.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from rtecho.errors import RtechoError

REPO = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("peers_fast.py")
FAST_VERSION = "4.18.0"
SETUP_HELP = f"""FAST's environment is missing ({{where}}). FAST is not an rtecho dependency; it runs in its own venv:
    make peers                 # does all of this, then runs the comparison
or by hand (Debian/Ubuntu, Python 3.11):
    apt-get install -y libusb-1.0-0 pocl-opencl-icd    # FAST links libusb; pocl is a CPU OpenCL driver
    python3 -m venv .venv-peers && .venv-peers/bin/pip install pyfast=={FAST_VERSION}
    python -m rtecho.bench peers --fast-python .venv-peers/bin/python"""


def find_fast_python(explicit: str | None = None) -> Path | None:
    """FAST's interpreter: ``explicit``, ``$RTECHO_PEERS_PYTHON``, or ``.venv-peers`` here or in the repo."""
    for cand in (explicit, os.environ.get("RTECHO_PEERS_PYTHON")):
        if cand:
            return Path(cand) if Path(cand).exists() else None
    for root in (Path.cwd(), REPO):
        py = root / ".venv-peers" / "bin" / "python"
        if py.exists():
            return py
    return None


def opset17_copy(src: str | Path, dst: str | Path) -> Path:
    """Write ``src`` (opset 18) as opset 17: Reduce* ``axes`` inputs become attributes; checked with ORT."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(src))
    inits = {t.name: t for t in model.graph.initializer}
    consts = {n.output[0]: n for n in model.graph.node if n.op_type == "Constant"}
    for node in model.graph.node:
        if not node.op_type.startswith("Reduce") or node.op_type == "ReduceSum" or len(node.input) < 2:
            continue
        name = node.input[1]
        if name in inits:
            axes = numpy_helper.to_array(inits[name])
        elif name in consts:
            axes = numpy_helper.to_array(consts[name].attribute[0].t)
        else:
            raise RtechoError(f"{src}: {node.name} has computed axes; cannot write an opset-17 copy")
        del node.input[1]
        keep = [a for a in node.attribute if a.name != "noop_with_empty_axes"]
        del node.attribute[:]
        node.attribute.extend([*keep, helper.make_attribute("axes", [int(a) for a in axes.ravel()])])
    used = {name for n in model.graph.node for name in n.input}
    unused = [t for t in model.graph.initializer if t.name not in used]
    for t in unused:  # the axes tensors now unreferenced
        model.graph.initializer.remove(t)
    for op in model.opset_import:
        if op.domain in ("", "ai.onnx"):
            op.version = min(op.version, 17)
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
    _check_parity(src, dst)
    return Path(dst)


def _check_parity(a: str | Path, b: str | Path) -> None:
    import onnxruntime as ort

    sa, sb = (ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for p in (a, b))
    inp = sa.get_inputs()[0]
    shape = [1 if not isinstance(d, int) else d for d in inp.shape]
    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    diff = float(np.abs(sa.run(None, {inp.name: x})[0] - sb.run(None, {inp.name: x})[0]).max())
    if diff > 1e-4:
        raise RtechoError(f"opset-17 copy of {a} differs from the original by {diff:g}")


class FastWorker:
    """FAST's worker process: ``run(engine, frames, warmup)`` -> its JSON answer."""

    def __init__(
        self, python: Path, dicom: str, n_frames: int, model: Path, ov_model: Path | None, card: Any
    ):
        cmd = [str(python), str(WORKER), "--dicom", dicom, "--n-frames", str(n_frames), "--model", str(model)]
        if ov_model is not None:
            cmd += ["--openvino-model", str(ov_model)]
        cmd += ["--labels", json.dumps(list(card.labels))]
        cmd += ["--mean", str(255 * float(card.mean[0])), "--std", str(255 * float(card.std[0]))]
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
        self.log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True, env=env
        )
        self.hello = self._answer()

    def _answer(self) -> dict[str, Any]:
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(10)
            self.log.seek(0)
            tail = " | ".join(self.log.read().strip().splitlines()[-3:])
            raise RtechoError(f"FAST worker exited (status {self.proc.returncode}): {tail[-400:]}")
        return json.loads(line)

    def pause(self) -> None:
        """Stop the worker while rtecho runs: idle, FAST's threads still took ~12% of a core here."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def run(self, engine: str, frames: int, warmup: int) -> dict[str, Any]:
        self.proc.stdin.write(f"run {engine} {frames} {warmup}\n")
        self.proc.stdin.flush()
        return self._answer()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.resume()
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


def rtecho_round(
    engine: Any, dicom: str, images: list[np.ndarray], frames: int, warmup: int
) -> dict[str, Any]:
    """One rtecho round: lockstep latencies (ms), first-pass labels, streamed frames per second."""
    from rtecho.io import DicomSource
    from rtecho.io.base import Source
    from rtecho.pipeline import StreamProcessor

    lat, labels, pre, inf = [], [], [], []
    with StreamProcessor(engine) as proc:
        for k in range(warmup + frames):
            t0 = time.perf_counter()
            pred = proc.process(images[k % len(images)], timestamp=k / 30)
            dt = (time.perf_counter() - t0) * 1e3
            if k >= warmup:
                lat.append(dt)
                pre.append(pred.timings_ms["preprocess"])
                inf.append(pred.timings_ms["infer"])
                if len(labels) < len(images):
                    labels.append(pred.label)

    class Looped(Source):  # the cine decoded again and again, like FAST's looping streamer
        def __init__(self, n: int) -> None:
            self.n = n
            with DicomSource(dicom) as probe:
                super().__init__(probe.info)

        def _frames(self):
            i = 0
            while True:
                with DicomSource(dicom) as src:
                    for frame in src:
                        if i == self.n:
                            return
                        yield frame.__class__(frame.image, index=i, timestamp=i / 30, source=frame.source)
                        i += 1

    warm = max(warmup, 1)
    stamps = []
    with StreamProcessor(engine, policy="block") as proc:
        for _ in proc.stream(Looped(warm + frames)):
            stamps.append(time.perf_counter())
    stages = {"preprocess": float(np.mean(pre)), "infer": float(np.mean(inf))}
    return {
        "lockstep_ms": lat,
        "labels": labels,
        "stages_mean_ms": stages,
        "streamed_fps": frames / (stamps[-1] - stamps[warm - 1]),
    }


def _stats(ms: list[float]) -> dict[str, float]:
    v = np.asarray(ms, np.float64)
    p50, p99 = np.percentile(v, [50, 99])
    return {"n": int(v.size), "p50": float(p50), "p99": float(p99), "mean": float(v.mean())}


def format_table(rows: list[dict[str, Any]]) -> str:
    ref = rows[0]
    lines = [
        f"{'pipeline':<28}{'p50 ms':>9}{'p99 ms':>9}{'fps (lockstep)':>16}{'fps (streamed)':>16}"
        f"{'p50 x rtecho':>14}{'p99 x rtecho':>14}"
    ]
    for r in rows:
        s = r["lockstep"]
        lines.append(
            f"{r['name']:<28}{s['p50']:>9.2f}{s['p99']:>9.2f}{1e3 / s['mean']:>16.1f}{r['streamed_fps']:>16.1f}"
            f"{s['p50'] / ref['lockstep']['p50']:>14.2f}{s['p99'] / ref['lockstep']['p99']:>14.2f}"
        )
    return "\n".join(lines)


def run_peers(args: Any) -> int:
    """The ``peers`` subcommand; returns the exit status."""
    from rtecho.bench.clips import pydicom_a4c
    from rtecho.bench.env import load_average
    from rtecho.io import DicomSource
    from rtecho.runtime import load_engine

    python = find_fast_python(args.fast_python)
    if python is None and not args.rtecho_only:
        print(SETUP_HELP.format(where=args.fast_python or ".venv-peers/bin/python"), file=sys.stderr)
        return 2
    dicom = args.clip or pydicom_a4c()
    engine = load_engine(args.model, **({"threads": args.threads} if getattr(args, "threads", None) else {}))
    if engine.card.channels != 1 and not args.rtecho_only:
        raise RtechoError(
            f"peers compares grey models (FAST's streamer runs in grayscale); {args.model} takes colour"
        )
    with DicomSource(dicom) as src:
        images = [f.image for f in src]
    tmp = Path(tempfile.mkdtemp(prefix="rtecho-peers-"))
    worker = None
    try:
        if python is not None and not args.rtecho_only:
            ov_model = opset17_copy(engine.model_path, tmp / "model.opset17.onnx")
            worker = FastWorker(python, dicom, len(images), engine.model_path, ov_model, engine.card)
            for name, err in worker.hello["errors"].items():
                print(f"FAST {name}: could not load the model: {err}", file=sys.stderr)
        fast_engines = worker.hello["engines"] if worker else []
        runs: dict[str, list[dict[str, Any]]] = {"rtecho": []} | {e: [] for e in fast_engines}
        load0 = load_average()
        for r in range(args.rounds):
            if worker is not None:
                worker.pause()
            try:
                runs["rtecho"].append(rtecho_round(engine, dicom, images, args.frames, args.warmup))
            finally:
                if worker is not None:
                    worker.resume()
            for e in fast_engines:
                runs[e].append(worker.run(e, args.frames, args.warmup))
            print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
        load1 = load_average()
    finally:
        if worker is not None:
            worker.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return _report(args, dicom, images, engine, runs, worker, load0, load1)


def _report(args, dicom, images, engine, runs, worker, load0, load1) -> int:
    threads = f" {args.threads} thr" if getattr(args, "threads", None) else ""
    names = {"rtecho": f"rtecho {engine.backend}/{engine.precision}{threads}"}
    names |= {e: f"FAST {worker.hello['fast']} {e}" for e in runs if e != "rtecho"}
    rows = []
    for key, rounds in runs.items():
        lat = [x for r in rounds for x in r["lockstep_ms"]]
        if key == "rtecho":
            fps = float(np.median([r["streamed_fps"] for r in rounds]))
        else:
            fps = float(np.median([r["streamed_frames"] / r["streamed_s"] for r in rounds]))
        stages: dict[str, float] = {}
        for stage in rounds[0].get("stages_mean_ms", {}):
            vals = [r["stages_mean_ms"][stage] for r in rounds if r["stages_mean_ms"].get(stage) is not None]
            if vals:
                stages[stage] = float(np.median(vals))
        row = {
            "name": names[key],
            "lockstep": _stats(lat),
            "streamed_fps": fps,
            "labels": rounds[0]["labels"],
        }
        rows.append(row | {"stages_mean_ms": stages})
    h, w = images[0].shape[:2]
    print(
        f"{engine.card.name} ({engine.model_path.name}) on {Path(dicom).name}: {len(images)} frames {w}x{h}; "
        f"{args.rounds} rounds x {args.frames} frames (+{args.warmup} warm-up), alternating; load {load0} -> {load1}"
    )
    print(format_table(rows))
    for row in rows:
        parts = ", ".join(f"{k} {v:.2f}" for k, v in row["stages_mean_ms"].items())
        print(f"  {row['name']}: stage means (ms, the pipeline's own timers): {parts}")
    ref = rows[0]["labels"]
    for row in rows[1:]:
        same = sum(a == b for a, b in zip(ref, row["labels"], strict=False))
        print(f"{row['name']}: same top label as rtecho on {same}/{len(ref)} frames of the first pass")
    if len(rows) == 1:
        print("(rtecho only: FAST's environment was not used)")
    if args.json:
        out = {
            "clip": str(dicom),
            "model": engine.card.name,
            "load_before": load0,
            "load_after": load1,
            "rows": rows,
        }
        out["fast"] = worker.hello if worker else None
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0
