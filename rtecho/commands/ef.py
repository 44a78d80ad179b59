"""``rtecho ef SOURCE``: LV segmentation, beats and ejection fraction beat by beat, on a file or device."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter, deque
from pathlib import Path
from typing import Any

NAME = "ef"
HELP = "segment the LV of an apical cine, find beats (ED/ES) and measure EF per beat (area-length, discs)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="video file, DICOM cine, image folder, /dev/videoN or camera index")
    p.add_argument(
        "--model", default=None, help="LV segmenter: ONNX path or name (default: engines/lvseg_*.onnx)"
    )
    p.add_argument("--backend", default=None, help="onnxruntime (default), openvino, ...")
    p.add_argument("--threads", type=int, default=None, help="inference threads")
    p.add_argument(
        "--view",
        default=None,
        help="the clip's view, e.g. A4C (skips the view check); a non-apical view gives no EF",
    )
    p.add_argument(
        "--view-model",
        default=None,
        help="classifier that checks the view per frame (default: the default classifier; 'none' to skip)",
    )
    p.add_argument(
        "--no-ultrasound", action="store_true", help="frames are already cropped: no sector detection"
    )
    p.add_argument(
        "--spacing-mm", type=float, default=None, help="pixel size in mm (default: from DICOM, else px)"
    )
    p.add_argument(
        "--smooth",
        type=float,
        default=None,
        help="smooth the area curve over at most +-S seconds (default: the tracker's, 0.12)",
    )
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many frames (devices)")
    p.add_argument(
        "--json", default=None, metavar="OUT", help="write beats, clip EF and per-frame areas as JSON"
    )
    p.add_argument(
        "--plot", default=None, metavar="OUT.png", help="plot the area curve, ED/ES and EF per beat"
    )
    p.add_argument(
        "--out", default=None, metavar="OUT.mp4", help="write the video with LV contour and EF readout"
    )
    p.add_argument(
        "--sheet", default=None, metavar="OUT.png", help="contact sheet of the beats' ED/ES frames"
    )
    p.add_argument(
        "--masks", default=None, metavar="OUT.npz", help="write masks (T,H,W) uint8 and frame indices"
    )


def default_segmenter() -> str:
    from rtecho.pipeline.cardiac import default_segmenter_path

    return default_segmenter_path(flag="--model")


class _ViewCheck:
    """The classifier's view per frame, majority over the last ``k`` frames (same sector crop)."""

    def __init__(self, engine: Any, k: int = 15) -> None:
        from rtecho.runtime.preprocess import Preprocessor

        self.engine, self.pre = engine, Preprocessor(engine.card)
        self.last: deque[str] = deque(maxlen=k)

    def __call__(self, image: Any, sector: Any) -> str:
        roi, keep = (None, None) if sector is None else sector.crop_keep(image.shape[:2])
        logits = self.engine.infer(self.pre(image, roi=roi, keep=keep))[0]
        self.last.append(self.engine.card.labels[int(logits.argmax())])
        return Counter(self.last).most_common(1)[0][0]


def _view_stage(check: _ViewCheck | None, fixed: str | None, ultrasound: bool) -> Any:
    """The pipeline's first stage for ``rtecho ef``: the sector (tracked as the segmenter tracks it) and
    the view: ``fixed`` (``--view``) or the classifier's majority, apical labels counted as one view
    (one acquisition: apical labels flickering is no view change)."""
    from rtecho.cardiac.beats import APICAL_VIEWS
    from rtecho.pipeline.contract import Stage

    class ViewStage(Stage):
        name, inputs, timing = "view", ("image",), "infer"
        outputs = ("sector", "index", "accepted", "smoothed", "smoothed_label", "raw_view")

        def __init__(self) -> None:
            from rtecho.ultrasound.sector import SectorDetector

            self.detector = SectorDetector() if ultrasound else None
            self.views: Counter = Counter()
            self.engines = () if check is None else (check.engine,)

        def __call__(self, rec: Any) -> None:
            rec.sector = self.detector.update(rec.image) if self.detector is not None else None
            raw = fixed or (check(rec.image, rec.sector) if check else None)
            view = raw
            if raw is not None:
                self.views[raw] += 1
                apical = Counter({k: c for k, c in self.views.items() if k in APICAL_VIEWS})
                if raw in apical:
                    view = apical.most_common(1)[0][0]
            rec.raw_view, rec.smoothed, rec.smoothed_label = raw, True, view

    return ViewStage()


def _fmt(x: float | None, nd: int = 1) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.{nd}f}"


def _table(beats: list, units: dict[str, str]) -> str:
    head = (
        f"{'beat':>4} {'ED':>5} {'ES':>5} {'ED s':>6} {'EDA':>8} {'ESA':>8} "
        f"{'EDV(AL)':>9} {'ESV(AL)':>9} {'EF(AL)':>6} {'EDV(MOD)':>9} {'ESV(MOD)':>9} {'EF(MOD)':>7} {'HR':>5}  quality"
    )
    rows = [
        f"areas {units['area']}, volumes {units['volume']}; AL = area-length, MOD = method of discs",
        head,
    ]
    for i, b in enumerate(beats, 1):
        rows.append(
            f"{i:>4} {b.ed_index:>5} {b.es_index:>5} {b.ed_time:>6.2f} {_fmt(b.eda):>8} {_fmt(b.esa):>8} "
            f"{_fmt(b.edv_area_length):>9} {_fmt(b.esv_area_length):>9} {_fmt(b.ef_area_length):>6} "
            f"{_fmt(b.edv_disc):>9} {_fmt(b.esv_disc):>9} {_fmt(b.ef_disc):>7} {_fmt(b.heart_rate, 0):>5}  "
            f"{','.join(b.quality) or 'ok'}"
        )
    return "\n".join(rows)


def _messages(n: int, n_lv: int, duration: float, beats: list, views: Counter, tracker: Any) -> list[str]:
    from rtecho.cardiac.beats import APICAL_VIEWS

    msgs: list[str] = []
    if n == 0:
        return ["the source gave no frames"]
    non_apical = {v: c for v, c in views.items() if v not in APICAL_VIEWS}
    apical = not (views and sum(non_apical.values()) > 0.5 * sum(views.values()))
    if not apical:
        top = max(non_apical, key=non_apical.get)
        msgs.append(
            f"not an apical view: {top} in {non_apical[top]} of {n} frames; EF is measured in apical views "
            "(A4C, A2C, A3C, A5C) only (pass --view if the classifier is wrong)"
        )
    if n_lv == 0 and apical:
        msgs.append("no LV found in any frame (is this an apical view, and --model an LV segmenter?)")
    elif n_lv < 0.5 * n:
        msgs.append(f"LV found in only {n_lv} of {n} frames")
    if not beats and n_lv and apical:
        msgs.append(
            f"no complete beat (ED then ES) in {n} frames, {duration:.2f} s: shorter than one beat, "
            "or no contraction seen"
        )
    if beats and not any(b.ok for b in beats):
        flags = sorted({q for b in beats for q in b.quality})
        msgs.append(f"every beat has a quality flag ({', '.join(flags)}): no clip EF")
    msgs += [f"note: {m}" for m in tracker.notes]
    return msgs


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from rtecho.cardiac import BeatTracker, TrackerConfig
    from rtecho.cardiac.beats import APICAL_VIEWS
    from rtecho.cardiac.draw import annotate_lv
    from rtecho.errors import RtechoError
    from rtecho.io import open_source
    from rtecho.runtime import DEFAULT_MODEL, load_engine

    opts = {"threads": args.threads} if args.threads else {}
    model = args.model or default_segmenter()
    engine = load_engine(model, backend=args.backend, **opts)
    view_engine = None
    if args.view is None and (args.view_model or "").lower() != "none":
        try:
            view_engine = load_engine(args.view_model or DEFAULT_MODEL, backend=args.backend, **opts)
        except RtechoError as exc:
            if args.view_model:
                raise
            print(f"note: no view check ({exc})", file=sys.stderr)
    source = open_source(args.source)
    info = source.info
    fps = info.fps or 30.0
    spacing_mm = (args.spacing_mm, args.spacing_mm) if args.spacing_mm else info.pixel_spacing_mm
    spacing = None if spacing_mm is None else (spacing_mm[0] / 10.0, spacing_mm[1] / 10.0)
    units = (
        {"area": "cm2", "length": "cm", "volume": "ml"}
        if spacing
        else {"area": "px2", "length": "px", "volume": "px3"}
    )
    if info.live and args.max_frames is None and (args.json or args.plot or args.masks):
        source.close()
        raise RtechoError("--json, --plot and --masks keep every frame of a live source: add --max-frames N")
    keep_rows = not info.live or bool(args.json or args.plot or args.masks)
    # the stream's cardiac stages (rtecho.pipeline.cardiac) behind this command's view stage: one path
    from rtecho.pipeline.cardiac import BeatsStage, SegmentStage
    from rtecho.pipeline.stages import FramePipeline

    check = _ViewCheck(view_engine) if view_engine is not None else None
    ultrasound = not args.no_ultrasound
    vstage = _view_stage(check, args.view, ultrasound)
    seg_opts = {"view": args.view, "always": True, "sector": ultrasound}
    try:
        sstage = SegmentStage(engine, engine.card, seg_opts, ultrasound=True)
    except RtechoError:
        source.close()
        raise
    tracker_cfg = TrackerConfig(reset_on_view_change=False)
    if args.smooth is not None:
        tracker_cfg.smooth_s = args.smooth
    bstage = BeatsStage(engine.card, {"tracker": tracker_cfg, "spacing_mm": spacing_mm}, ultrasound=True)
    pipe = FramePipeline([vstage, sstage, bstage], card=engine.card)
    beats: list = []
    rows: dict[str, list] = {"index": [], "time": [], "area": [], "length": [], "confidence": [], "view": []}
    masks: list[np.ndarray] = []
    sink = None
    n = n_lv = 0
    recent: deque = deque(maxlen=int(fps * 3) + 8)  # (index, image, mask) for the ED/ES sheet
    tiles: list = []
    last_t = None
    with pipe, source:
        if args.out:
            from rtecho.viz import VideoSink

            sink = VideoSink(args.out, fps=fps)
        try:
            for frame in source:
                if args.max_frames is not None and n >= args.max_frames:
                    break
                n += 1
                t = frame.timestamp if last_t is None or frame.timestamp > last_t else last_t + 1.0 / fps
                last_t = t
                rec = pipe.run(frame)
                tracker = bstage.tracker
                mask, conf, lv = rec.lv_mask, rec.lv_confidence, rec.lv or {}
                area, length = lv.get("area") or 0.0, lv.get("length")
                n_lv += area > 0
                new = list(rec.beats)
                beats += new
                if args.sheet:
                    recent.append((frame.index, frame.image, mask))
                    tiles += _tiles(new, recent, len(beats) - len(new), len(tiles))
                if keep_rows:
                    for k, v in zip(
                        rows,
                        (frame.index, t, area, length if area > 0 else None, conf, rec.raw_view),
                        strict=True,
                    ):
                        rows[k].append(None if isinstance(v, float) and not math.isfinite(v) else v)
                if args.masks:
                    masks.append(mask.astype(np.uint8))
                if sink is not None:
                    view = lv.get("view")
                    ef = tracker.running_ef
                    lines = [f"EF {ef:.0f}%" if ef is not None else "EF --"]
                    hr = tracker.heart_rate
                    lines.append(f"HR {hr:.0f}" if hr else "HR --")
                    if view is not None and view not in APICAL_VIEWS:
                        lines.append(f"{view}: not apical")
                    if beats:
                        last = beats[-1]
                        tag = ",".join(last.quality).replace("_", " ")
                        lines.append(f"beat {len(beats)}: {_fmt(last.ef, 0)}%" + (f" ({tag})" if tag else ""))
                    sink.write(frame, None, annotate_lv(frame.image, mask, lines))  # type: ignore[arg-type]
            tracker = bstage.tracker or BeatTracker(tracker_cfg)
            tail = tracker.flush()
            beats += tail
            if args.sheet:
                tiles += _tiles(tail, recent, len(beats) - len(tail), len(tiles))
        finally:
            if sink is not None:
                sink.close()
    views = vstage.views
    duration = (rows["time"][-1] - rows["time"][0]) if len(rows["time"]) > 1 else 0.0
    msgs = _messages(n, n_lv, duration, beats, views, tracker)
    good = [b for b in beats if b.ok][-5:]
    clip_ef = float(np.mean([b.ef for b in good])) if good else None
    clip_al = float(np.mean([b.ef_area_length for b in good])) if good else None
    if any(m.startswith("not an apical view") for m in msgs):
        clip_ef = clip_al = None
    print(_table(beats, units) if beats else "no beats")
    if clip_ef is not None:
        print(
            f"clip EF {clip_ef:.1f}% (method of discs; area-length {clip_al:.1f}%) over {len(good)} beat(s), "
            f"HR {_fmt(tracker.heart_rate, 0)}/min"
        )
    else:
        print("clip EF: none")
    for m in msgs:
        print(m, file=sys.stderr)
    if args.json:
        out = {
            "source": str(args.source),
            "model": engine.card.name,
            "fps": fps,
            "frames": n,
            "frames_with_lv": n_lv,
            "units": units,
            "spacing_cm": None if spacing is None else list(spacing),
            "beats": [b.to_dict() for b in beats],
            "clip": {
                "ef": clip_ef,
                "ef_area_length": clip_al,
                "beats_used": len(good),
                "heart_rate": tracker.heart_rate,
            },
            "messages": msgs,
            "per_frame": rows,
        }
        Path(args.json).write_text(json.dumps(out, indent=1, default=_json_default))
    if args.plot and keep_rows:
        from rtecho.cardiac.draw import beats_png

        beats_png(
            args.plot,
            np.array(rows["time"]),
            np.array(rows["area"]),
            beats,
            clip_ef,
            units["area"],
            Path(str(args.source)).name,
        )
    if args.sheet:
        from matplotlib.image import imsave

        from rtecho.cardiac.draw import contact_sheet

        imsave(args.sheet, contact_sheet(tiles))
    if args.masks:
        arr = np.stack(masks) if masks else np.zeros((0, 0, 0), np.uint8)
        np.savez_compressed(args.masks, masks=arr, frames=np.asarray(rows["index"], np.int64))
    return 0


def _tiles(new: list, recent: deque, first: int, have: int, most: int = 20) -> list:
    """Sheet tiles (image, mask, label) of the ED and ES frames of newly found beats (at most ``most``)."""
    out = []
    frames = {i: (img, m) for i, img, m in recent}
    for k, b in enumerate(new, first + 1):
        for kind, idx in (("ED", b.ed_index), ("ES", b.es_index)):
            if idx in frames and have + len(out) < most:
                img, m = frames[idx]
                out.append((img, m, f"{k} {kind} #{idx}" + (f" EF {_fmt(b.ef, 0)}" if kind == "ES" else "")))
    return out


def _json_default(x: Any) -> Any:
    if hasattr(x, "item"):
        return x.item()
    raise TypeError(f"not JSON serialisable: {type(x)}")
