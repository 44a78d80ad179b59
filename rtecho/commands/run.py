"""``rtecho run SOURCE --model M``: classify every frame of a stream, with a latency summary."""

from __future__ import annotations

import argparse
import json
import sys

NAME = "run"
HELP = "classify every frame of a video, DICOM cine, image folder or capture device"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "source",
        help="video file, DICOM, image folder, /dev/videoN, camera index or igtl://HOST:PORT[/DEVICE]",
    )
    from rtecho.runtime import DEFAULT_MODEL

    p.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"ONNX path or model name in engines/ (default {DEFAULT_MODEL})",
    )
    p.add_argument("--backend", default=None, help="onnxruntime (default), openvino, tensorrt, torch")
    p.add_argument(
        "--precision",
        default=None,
        help="fp32 (default; a variant file given as --model: its own), fp16, bf16 or int8 (backend permitting)",
    )
    p.add_argument("--threads", type=int, default=None, help="inference threads (backend default if unset)")
    p.add_argument("--out", default=None, help="write the annotated video here (MP4)")
    p.add_argument("--jsonl", default=None, help="write one JSON line per frame here")
    p.add_argument(
        "--igtl-out",
        default=None,
        metavar="HOST:PORT",
        help="serve results as OpenIGTLink STRING messages (rtecho_view, rtecho_confidence, rtecho_mode, "
        "rtecho_change, rtecho_result) on HOST:PORT for 3D Slicer or other clients",
    )
    p.add_argument("--realtime", action="store_true", help="replay a file paced at its own fps")
    p.add_argument(
        "--policy", choices=("latest", "block"), default=None, help="drop policy (default by source)"
    )
    p.add_argument("--summary-json", default=None, help="write the latency summary as JSON here")
    p.add_argument(
        "--ultrasound",
        action="store_true",
        help="scanner screens: find the imaging sector (crop, blank the rest), gate non-B-mode frames, "
        "smooth with hysteresis, report view changes, unknown frames (card calibration) and the "
        "clip's view with its segments (files only: a live source is not kept in memory)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    # the cardiac stages (rtecho.pipeline.cardiac)
    p.add_argument("--ef", action="store_true", help="segment the LV on apical views (A4C, A2C): beats, EF")
    p.add_argument(
        "--ef-view", default=None, help="with --ef: the clip is this view (e.g. A4C): segment every frame"
    )
    p.add_argument(
        "--segmenter", default=None, help="with --ef: the LV segmenter (default engines/lvseg_lite.onnx)"
    )


def run(args: argparse.Namespace) -> int:
    from rtecho.io import open_source
    from rtecho.pipeline import run_stream
    from rtecho.runtime import load_engine
    from rtecho.viz import IgtlSink

    opts = {"threads": args.threads} if args.threads else {}
    engine = load_engine(args.model, backend=args.backend, precision=args.precision, **opts)
    source = open_source(args.source)
    fps = source.info.fps or 30.0
    sinks = []
    if args.igtl_out:
        igtl = IgtlSink.from_address(args.igtl_out)
        sinks.append(igtl)
        host, port = igtl.address
        print(f"note: serving results over OpenIGTLink on {host}:{port} (STRING messages)", file=sys.stderr)
    if not engine.card.trained:
        print(
            f"note: model {engine.card.name!r} is UNTRAINED (random weights): its labels mean nothing",
            file=sys.stderr,
        )
    bar = _progress(source.info.n_frames, disabled=args.no_progress or source.info.live)
    try:
        summary, preds = run_stream(
            engine,
            source,
            ultrasound=args.ultrasound,
            policy=args.policy,
            realtime=args.realtime,
            video=args.out,
            jsonl=args.jsonl,
            sinks=sinks,
            on_prediction=lambda _pred: bar.update(1),
            **_ef_options(args, opts),
        )
    finally:
        bar.close()
    print(f"{engine.card.name} on {engine.backend}/{engine.precision} - {args.source}")
    print(summary.table())
    out = summary.to_dict()
    if callable(getattr(source, "report", None)):  # live network sources: gaps, stalls, bad messages
        print(f"source: {source.report()}")
        out["source"] = source.stats()
    if preds is not None:
        clip, unknown = clip_of(preds, fps)
        out["clip"] = clip.to_dict()
        conf = f" ({clip.confidence:.2f})" if clip.label else ""
        out["clip"]["unknown_frames"] = unknown
        print(
            f"clip: {clip.label or 'no view'}{conf}; modes {clip.modes}; {unknown} frame(s) rejected as unknown"
        )
        for seg in clip.segments:
            print(
                f"  {seg.label:8s} frames {seg.start_frame}-{seg.end_frame} ({seg.start_s:.2f}-{seg.end_s:.2f} s)"
            )
    if args.summary_json:
        with open(args.summary_json, "w") as f:
            json.dump(out, f, indent=2)
    if summary.stream_error:
        print(f"rtecho run: error: {summary.stream_error}", file=sys.stderr)
        return 1
    return 0


def clip_of(preds, fps: float):
    """The clip result (view, confidence, segments, modes) and the number of frames rejected as unknown."""
    from rtecho.ultrasound import summarize_clip

    unknown = sum(1 for p in preds if p.ok and p.label is not None and not p.accepted)
    return summarize_clip(preds, 1.0 / fps), unknown


def _ef_options(args, opts) -> dict:
    """The cardiac stages' options of build_pipeline (--ef, --ef-view, --segmenter)."""
    if not (args.ef or args.ef_view or args.segmenter):
        return {}
    from rtecho.pipeline.cardiac import default_segmenter_path
    from rtecho.runtime import load_engine

    seg = load_engine(args.segmenter or default_segmenter_path(), backend=args.backend, **opts)
    return {"ef": True, "engines": {"segment": seg}, "segment": {"view": args.ef_view}}


class _NoBar:
    def update(self, n: int) -> None: ...

    def close(self) -> None: ...


def _progress(total: int | None, disabled: bool):
    if disabled:
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(total=total, unit="frame", file=sys.stderr, leave=False)
