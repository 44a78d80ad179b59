"""LV segmenter check: Dice on held-out simulator ED/ES frames at source resolution, and ORT latency.

    PYTHONPATH=$PWD python benchmarks/seg_check.py engines/lvseg_unet.onnx [--cines 60] [--runs 500]

Held-out cines: seeds 900000.. (training draws 100000.. and validation 200000..), EF evenly spread over
20-75 %, alternately A4C/A2C and simulator v1/v2, heart rate 45-130 /min, 20-80 frames/s, source size
112-176 px (as training). Each ED and ES frame takes the runtime path: the sector's bounding box
(exact, from the simulator's fan) and the blanked outside go through
:class:`rtecho.runtime.preprocess.Preprocessor` with the model's card, the engine comes from
:func:`rtecho.runtime.load_engine`, and the logit difference ``LV - background`` is resized back to
the crop (the same antialiased bilinear resize) and thresholded at 0 in the source frame
(:func:`rtecho.runtime.masks.mask_to_source`). Dice is against the simulator's source-resolution mask.

Latency: ``engine.infer`` on one preprocessed frame, ``--runs`` times after 50 warm-up runs, at 1
ORT thread and at rtecho's default threads; and the whole per-frame path (preprocess + infer +
mask back to source) at 1 thread. Writes ``benchmarks/results/seg-NAME.json``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from rtecho.runtime.masks import mask_to_source

HELDOUT_BASE = 900_000


def heldout(n: int, cache: Path | None) -> dict[str, np.ndarray]:
    """ED and ES source frames of ``n`` held-out cines (cached as an .npz of object-free arrays)."""
    if cache is not None and cache.exists():
        with np.load(cache, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
        if len(d["ef"]) == n:
            return d
    from rtecho.synth.cine import render_cine as render_v1
    from rtecho.synth.heart3d.cine import render_cine as render_v2
    from rtecho.synth.physics import fan_mask

    side_max = 176
    rows: dict[str, list] = {k: [] for k in ("frames", "masks", "fans", "hw", "kind", "cine")}
    efs, views, sims = [], [], []
    for i in range(n):
        rng = np.random.default_rng(HELDOUT_BASE + i)
        ef = 20.0 + 55.0 * i / max(1, n - 1)
        view, sim = ("A4C", "A2C")[i % 2], ("v1", "v2")[(i // 2) % 2]
        hr, fps = float(rng.uniform(45, 130)), float(rng.uniform(20, 80))
        side = int(rng.integers(112, side_max + 1))
        hw = (side, int(round(side * rng.uniform(1.0, 1.3))))
        render = render_v1 if sim == "v1" else render_v2
        c = render(
            view, rng, n_frames=int(np.ceil(fps * 60 / hr)) + 1, fps=fps, ef=ef, heart_rate=hr, size_hw=hw
        )
        fan = fan_mask(c.geometry)
        for kind, idx in ((1, c.ed_index), (2, c.es_index)):
            pad = np.zeros((side_max, int(round(side_max * 1.3)) + 1), np.uint8)
            for key, arr in (("frames", c.frames[idx]), ("masks", c.lv_masks[idx]), ("fans", fan)):
                p = pad.copy()
                p[: hw[0], : hw[1]] = arr
                rows[key].append(p)
            rows["hw"].append(hw)
            rows["kind"].append(kind)
            rows["cine"].append(i)
        efs.append(c.ef)
        views.append(view)
        sims.append(sim)
    d = {k: np.asarray(v) for k, v in rows.items()}
    d.update(ef=np.asarray(efs), views=np.asarray(views), sims=np.asarray(sims))
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(cache, **d)
    return d


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    s = int(a.sum()) + int(b.sum())
    return 1.0 if s == 0 else 2.0 * int((a & b).sum()) / s


def _roi(fan: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(fan)
    return int(ys.min()), int(xs.min()), int(ys.max() - ys.min() + 1), int(xs.max() - xs.min() + 1)


def evaluate(model: str, data: dict[str, np.ndarray], precision: str = "fp32") -> dict:
    """Dice per held-out frame at source resolution through the runtime path."""
    from rtecho.runtime import load_engine
    from rtecho.runtime.preprocess import Preprocessor

    scores = []
    with load_engine(model, precision=precision, threads=1) as engine:
        pre = Preprocessor(engine.card)
        for j in range(len(data["kind"])):
            h, w = data["hw"][j]
            frame, truth, fan = (
                data["frames"][j][:h, :w],
                data["masks"][j][:h, :w] > 0,
                data["fans"][j][:h, :w] > 0,
            )
            roi = _roi(fan)
            t, left, hh, ww = roi
            x = pre(frame, roi=roi, keep=fan[t : t + hh, left : left + ww])
            pred = mask_to_source(engine.infer(x)[0], roi, (h, w))
            scores.append(_dice(pred, truth))
    s, kind = np.asarray(scores), data["kind"]
    v = data["views"][data["cine"]]
    out = {
        "n_cines": int(len(data["ef"])),
        "ef_range": [round(float(data["ef"].min()), 1), round(float(data["ef"].max()), 1)],
        "dice_ed": round(float(s[kind == 1].mean()), 4),
        "dice_es": round(float(s[kind == 2].mean()), 4),
        "dice_ed_min": round(float(s[kind == 1].min()), 4),
        "dice_es_min": round(float(s[kind == 2].min()), 4),
        "frames_dice_below_0.8": int((s < 0.8).sum()),
    }
    for view in ("A4C", "A2C"):
        out[f"dice_{view}"] = round(float(s[v == view].mean()), 4)
    for sim in ("v1", "v2"):
        out[f"dice_{sim}"] = round(float(s[data["sims"][data["cine"]] == sim].mean()), 4)
    return out


def _stats(ts: list[float]) -> dict:
    a = np.asarray(ts) * 1000.0
    return {"p50_ms": round(float(np.percentile(a, 50)), 3), "p99_ms": round(float(np.percentile(a, 99)), 3)}


def _time(fn, runs: int, warmup: int = 50) -> dict:
    """p50/p99 of ``fn()`` over ``runs`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return _stats(ts)


def latency(model: str, data: dict[str, np.ndarray], runs: int, precision: str = "fp32") -> dict:
    """ORT ``infer`` p50/p99 at 1 thread and rtecho's default, and the whole per-frame path at 1 thread."""
    from rtecho.runtime import load_engine
    from rtecho.runtime.preprocess import Preprocessor

    h, w = data["hw"][0]
    frame, fan = data["frames"][0][:h, :w], data["fans"][0][:h, :w] > 0
    roi = _roi(fan)
    t, left, hh, ww = roi
    keep = fan[t : t + hh, left : left + ww]
    out = {}
    for label, threads in (("threads1", 1), ("default", None)):
        with load_engine(model, precision=precision, threads=threads) as engine:
            pre = Preprocessor(engine.card)
            x = pre(frame, roi=roi, keep=keep)
            out[f"infer_{label}"] = _time(functools.partial(engine.infer, x), runs)
            if threads == 1:
                path = _time(
                    lambda e=engine, p=pre: mask_to_source(
                        e.infer(p(frame, roi=roi, keep=keep))[0], roi, (h, w)
                    ),
                    runs,
                    warmup=0,
                )
                out["frame_path_threads1"] = {**path, "source_hw": [int(h), int(w)]}
    return out


def real_cines() -> list[tuple[str, str]]:
    """(name, path) of the real apical 4-chamber cines pydicom ships (30 and 120 frames)."""
    from pydicom import examples
    from pydicom.data import get_testdata_file

    return [
        ("pydicom ybr_color (30 frames)", str(examples.get_path("ybr_color"))),
        (
            "pydicom-data color3d_jpeg_baseline (120 frames)",
            str(get_testdata_file("color3d_jpeg_baseline.dcm")),
        ),
    ]


def segment_clip(
    model: str, path: str
) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray, tuple[int, int, int, int]]:
    """Frames, LV masks (source resolution), LV areas and the sector crop of a clip, as at run time."""
    from rtecho.io import open_source
    from rtecho.runtime import load_engine
    from rtecho.runtime.preprocess import Preprocessor
    from rtecho.ultrasound.sector import SectorDetector

    with open_source(path) as src:
        frames = [f.image for f in src]
    detector = SectorDetector()
    for image in frames:
        sector = detector.update(image)
    hw = frames[0].shape[:2]
    roi = sector.scaled_bbox(hw)
    t, left, hh, ww = roi
    keep = sector.region(hw)[t : t + hh, left : left + ww]
    masks = []
    with load_engine(model, threads=1) as engine:
        pre = Preprocessor(engine.card)
        for image in frames:
            masks.append(mask_to_source(engine.infer(pre(image, roi=roi, keep=keep))[0], roi, hw))
    return frames, masks, np.asarray([m.sum() for m in masks]), roi


def contact_sheet(model: str, out: Path, n: int = 6) -> list[dict]:
    """PNG of ``n`` frames per real cine (largest and smallest LV area first) with the LV contour."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cines = real_cines()
    fig, axes = plt.subplots(len(cines), n + 1, figsize=(2.8 * (n + 1), 2.9 * len(cines)), squeeze=False)
    summary = []
    for row, (name, path) in enumerate(cines):
        frames, masks, area, (t, left, hh, ww) = segment_clip(model, path)
        order = [int(area.argmax()), int(area.argmin())]
        order += [i for i in np.linspace(0, len(frames) - 1, n).astype(int) if i not in order][: n - 2]
        for col, i in enumerate(order):
            img = frames[i] if frames[i].ndim == 3 else np.repeat(frames[i][..., None], 3, 2)
            m = masks[i]
            edge = m & ~(np.roll(m, 1, 0) & np.roll(m, -1, 0) & np.roll(m, 1, 1) & np.roll(m, -1, 1))
            edge = edge | np.roll(edge, 1, 0) | np.roll(edge, 1, 1)
            shown = img.copy()
            shown[edge] = (0, 255, 0)
            ax = axes[row, col]
            ax.imshow(shown[t : t + hh, left : left + ww])  # the sector crop the segmenter sees
            tag = {0: "max area", 1: "min area"}.get(col, "")
            head = f"{name}\n" if col == 0 else "\n"
            ax.set_title(f"{head}frame {i} {tag}, LV {int(area[i])} px", fontsize=7, loc="left")
            ax.axis("off")
        ax = axes[row, n]
        ax.plot(area, lw=1)
        ax.set_title("LV area (px) per frame", fontsize=8)
        ax.tick_params(labelsize=6)
        summary.append({"cine": name, "frames": len(frames), "area_min": int(area.min()), "area_max": int(area.max()),
                        "frames_without_lv": int((area == 0).sum())})  # fmt: skip
    fig.suptitle(
        f"{Path(model).stem} on real A4C cines (green: LV contour; trained on SIMULATED data only)",
        fontsize=10,
    )
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return summary


def reference_latency(model: str, runs: int) -> dict:
    """A classifier's ``infer`` p50/p99 at 1 thread, measured in the same run (load changes ms, not ratios)."""
    from rtecho.runtime import load_engine

    with load_engine(model, threads=1) as engine:
        x = np.zeros((1, *engine.input_shape), np.float32)
        return _time(lambda: engine.infer(x), runs)


def pair_latency(model: str, classifier: str, runs: int, precision: str = "fp32") -> dict:
    """Classify + segment per frame of pydicom's real A4C cine (cycled), 1 thread each, without the
    stream pipeline: sector tracker update, both preprocessings, both engines, mask back to source."""
    from rtecho.io import open_source
    from rtecho.runtime import load_engine
    from rtecho.runtime.preprocess import Preprocessor
    from rtecho.ultrasound.sector import SectorDetector

    with open_source(real_cines()[0][1]) as src:
        frames = [f.image for f in src]
    detector = SectorDetector()
    ts = []
    with (
        load_engine(classifier, threads=1) as cls_engine,
        load_engine(model, precision=precision, threads=1) as seg_engine,
    ):
        pre_c, pre_s = Preprocessor(cls_engine.card), Preprocessor(seg_engine.card)
        for k in range(runs + 30):
            image = frames[k % len(frames)]
            t0 = time.perf_counter()
            sector = detector.update(image)
            roi = sector.scaled_bbox(image.shape[:2])
            top, left, hh, ww = roi
            keep = sector.region(image.shape[:2])[top : top + hh, left : left + ww]
            cls_engine.infer(pre_c(image, roi=roi, keep=keep))
            logits = seg_engine.infer(pre_s(image, roi=roi, keep=keep))[0]
            mask_to_source(logits, roi, image.shape[:2])
            if k >= 30:
                ts.append(time.perf_counter() - t0)
    return {**_stats(ts), "classifier": classifier, "source_hw": list(frames[0].shape[:2])}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+", help="ONNX files with cards (e.g. engines/lvseg_unet.onnx)")
    p.add_argument("--cines", type=int, default=60, help="held-out cines (default 60)")
    p.add_argument("--runs", type=int, default=500, help="timed runs per latency row (default 500)")
    p.add_argument("--cache", default="runs/seg/heldout.npz", help="held-out set cache ('' for none)")
    p.add_argument("--int8", action="store_true", help="also check each model's int8 variant")
    p.add_argument("--write-card", action="store_true", help="put the held-out Dice into each card")
    p.add_argument("--out-dir", default="benchmarks/results")
    p.add_argument(
        "--reference", default="darts2", help="classifier timed in the same run, for ratios ('' for none)"
    )
    p.add_argument(
        "--sheet", metavar="PNG", help="contact sheet of the first model on pydicom's real A4C cines"
    )
    args = p.parse_args(argv)
    if args.sheet:
        for row in contact_sheet(args.models[0], Path(args.sheet)):
            print(row)
        print(f"-> {args.sheet}")
        return 0
    data = heldout(args.cines, Path(args.cache) if args.cache else None)
    load = os.getloadavg()
    reference = reference_latency(args.reference, args.runs) if args.reference else None
    if reference:
        print(
            f"reference {args.reference} infer p50/p99 {reference['p50_ms']:.2f}/{reference['p99_ms']:.2f} ms (1 thread)"
        )
    for model in args.models:
        rows = {}
        for precision in ("fp32", "int8") if args.int8 else ("fp32",):
            rows[precision] = {
                "dice": evaluate(model, data, precision),
                "latency": latency(model, data, args.runs, precision),
            }
            if args.reference:
                rows[precision]["latency"]["classify_segment_real_a4c"] = pair_latency(
                    model, args.reference, args.runs, precision
                )
            d, lat = rows[precision]["dice"], rows[precision]["latency"]
            print(
                f"{Path(model).stem} {precision}: Dice ED {d['dice_ed']:.4f} ES {d['dice_es']:.4f} "
                f"(min {d['dice_ed_min']:.3f}/{d['dice_es_min']:.3f}; A4C {d['dice_A4C']:.4f} A2C {d['dice_A2C']:.4f}; "
                f"v1 {d['dice_v1']:.4f} v2 {d['dice_v2']:.4f}) on {d['n_cines']} held-out cines; infer p50/p99 "
                f"{lat['infer_threads1']['p50_ms']:.2f}/{lat['infer_threads1']['p99_ms']:.2f} ms (1 thread), "
                f"{lat['infer_default']['p50_ms']:.2f}/{lat['infer_default']['p99_ms']:.2f} ms (default); frame path "
                f"{lat['frame_path_threads1']['p50_ms']:.2f}/{lat['frame_path_threads1']['p99_ms']:.2f} ms"
            )
            if "classify_segment_real_a4c" in lat:
                pair = lat["classify_segment_real_a4c"]
                print(
                    f"  + {pair['classifier']} classify and segment, real A4C {pair['source_hw']}: p50/p99 "
                    f"{pair['p50_ms']:.2f}/{pair['p99_ms']:.2f} ms per frame (no stream pipeline)"
                )
        result = {
            "model": str(model),
            "rows": rows,
            "reference_classifier": {"model": args.reference, "infer_threads1": reference}
            if reference
            else None,
            "runs": args.runs,
            "load_avg_1_5_15": [round(v, 2) for v in load],
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        out = Path(args.out_dir) / f"seg-{Path(model).stem}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"-> {out} (load average {load[0]:.2f})")
        if args.write_card:
            from dataclasses import replace

            from rtecho.types import ModelCard, card_path_for

            path = card_path_for(Path(model))
            card = ModelCard.load(path)
            heldout_row = {
                **rows["fp32"]["dice"],
                "seeds_from": HELDOUT_BASE,
                "resolution": "source",
                "simulated": True,
            }
            replace(card, metrics={**dict(card.metrics), "heldout_sim": heldout_row}).save(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
