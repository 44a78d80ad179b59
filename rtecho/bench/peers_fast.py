"""FAST's side of ``python -m rtecho.bench peers``: a worker run by FAST's own Python (``.venv-peers``).

Standalone on purpose: it imports neither rtecho nor numpy, only FAST (PyPI ``pyfast``), so
FAST never becomes a dependency of rtecho and rtecho never loads into FAST's environment. The
parent (``rtecho.bench.peers``) starts it once, then sends one command per line on stdin;
every answer is one JSON line on stdout (FAST's own log goes to stderr):

- at start: ``{"ready": true, "fast": VERSION, "engines": [...], "load_s": {...}, "errors": {...}}``
- ``run ENGINE FRAMES WARMUP``: one lockstep run (each of FRAMES decoded frames, cycled, is given
  to the network with ``setInputData`` and timed around ``runAndGetOutputData``: resize,
  normalise, infer, output) and one streamed run (the same network connected to the DICOM
  multi-frame streamer, looping, through a ``DataStream``; stopped on the frame count, since
  FAST's DICOM streamer never signals its last frame). Answer: lockstep latencies (ms), streamed wall time,
  the labels of the first pass over the cine, and the means of FAST's own stage timers
  (``input_processing``: resize and normalisation, ``inference``, ``output_processing``);
- ``quit``.

FAST normalises as ``((x - mean) / std) * scale``, so rtecho's ``(x/255 - mean)/std`` is
``mean*255, std*255, scale 1``; the keyword for the standard deviation is spelt
``stanardDeviationIntensity`` in FAST 4.18. FAST must be imported in the main thread and, with no
display, with ``QT_QPA_PLATFORM=offscreen``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

_OUT = None  # the JSON channel: the original stdout; fd 1 itself is pointed at stderr for FAST's C++ log


def _say(obj: dict) -> None:
    _OUT.write(json.dumps(obj) + "\n")
    _OUT.flush()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dicom", required=True)
    ap.add_argument(
        "--n-frames", type=int, required=True, help="frames in the cine (FAST does not say when it ends)"
    )
    ap.add_argument("--model", required=True, help="ONNX model for the ONNX Runtime engine")
    ap.add_argument("--openvino-model", default=None, help="ONNX model for OpenVINO (an opset-17 copy)")
    ap.add_argument("--labels", required=True, help="JSON list of label names")
    ap.add_argument("--mean", type=float, required=True, help="in 0-255 units")
    ap.add_argument("--std", type=float, required=True, help="in 0-255 units")
    args = ap.parse_args()
    global _OUT
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    _OUT = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # FAST's banner and log (written by C++ to fd 1) go to stderr, not into the JSON
    sys.stdout = sys.stderr
    import fast

    labels = json.loads(args.labels)
    # One streamer for the whole process: a second DICOMMultiFrameStreamer in the same process fails
    # here (FAST 4.18: "can't change to unencapsulated representation for pixel data"), so the
    # frames for the lockstep runs are the first pass of the one looping streamer.
    streamer = fast.DICOMMultiFrameStreamer.create(args.dicom, loop=True, useFramerate=False, grayscale=True)
    frames = []
    for image in fast.DataStream(streamer):
        frames.append(image)
        if len(frames) == args.n_frames:
            break
    models = {"ONNXRuntime": args.model, "OpenVINO": args.openvino_model or args.model}

    def network(engine: str):
        return fast.ImageClassificationNetwork.create(
            models[engine],
            labels,
            scaleFactor=1.0,
            meanIntensity=args.mean,
            stanardDeviationIntensity=args.std,
            inferenceEngine=engine,
        )

    nets, load_s, errors = {}, {}, {}
    for engine in models:
        t0 = time.perf_counter()
        try:
            net = network(engine)
            net.setInputData(frames[0])
            net.runAndGetOutputData()  # loads the model now, so load errors show here
        except RuntimeError as exc:
            errors[engine] = str(exc).strip().splitlines()[0][:300]
            continue
        net.enableRuntimeMeasurements()  # FAST's own per-stage timings, reported beside the totals
        nets[engine] = net
        load_s[engine] = round(time.perf_counter() - t0, 3)
    version = getattr(fast, "__version__", None) or _dist_version()
    _say({"ready": True, "fast": version, "engines": sorted(nets), "load_s": load_s, "errors": errors})
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        engine, n, warmup = cmd[1], int(cmd[2]), int(cmd[3])
        if engine not in nets:
            _say({"engine": engine, "error": errors.get(engine, "unknown engine")})
            continue
        net = nets[engine]
        lat, first_pass = [], []
        timers = ("input_processing", "inference", "output_processing")
        for k in range(warmup + n):
            if k == warmup:  # FAST's timers keep sums, not samples: start them after the warm-up
                for stage in timers:
                    net.getAllRuntimes().getTiming(stage).reset()
            image = frames[k % len(frames)]
            net.setInputData(image)
            t0 = time.perf_counter()
            out = net.runAndGetOutputData()
            dt = (time.perf_counter() - t0) * 1e3
            if k >= warmup:
                lat.append(dt)
                if len(first_pass) < len(frames):
                    first_pass.append(out.getTopClassification()[0])
        stages = {stage: net.getAllRuntimes().getTiming(stage).getAverage() for stage in timers}
        net.connect(streamer)  # the same network, now fed by the looping DICOM streamer
        warm = max(warmup, 1)  # the first frame also loads the model: never timed
        t_start, t_first = time.perf_counter(), 0.0
        for got, _ in enumerate(fast.DataStream(net), 1):
            if got == warm:
                t_first = time.perf_counter()
            if got == warm + n:
                break
        wall = time.perf_counter() - t_first
        _say(
            {
                "engine": engine,
                "lockstep_ms": lat,
                "labels": first_pass,
                "stages_mean_ms": stages,
                "streamed_frames": n,
                "streamed_s": wall,
                "streamed_total_s": time.perf_counter() - t_start,
            }
        )
    return 0


def _dist_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pyfast")
    except PackageNotFoundError:
        return None


if __name__ == "__main__":
    sys.exit(main())
