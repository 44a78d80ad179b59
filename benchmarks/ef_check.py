"""Beats and EF from TRUE simulator LV masks: beat detection and EF error against the simulator's truth.

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/ef_check.py [--n 60] [--out benchmarks/results/ef-DATE.json]``

Held-out cines (seeds ``[20261201, sim, k]``, a tuple no training set uses: ``generate_dataset`` seeds
are ``[seed, 1|2, view, i]``) of A4C and A2C from both simulators, EF uniform 20-75, heart rate 45-130,
frame rate 20-80, 4-6 s long, rendered ``masks_only`` (true masks, no images). Four groups per
simulator: ``regular``; ``jitter`` (each frame's true mask eroded or dilated by 0-1 px at random, as a
segmenter's boundary wobbles: area noise of a few percent); ``dropped`` (10 % of frames dropped at random plus one run of 3: the tracker
gets the remaining frames with their true timestamps); ``irregular`` (RR drawn per beat from
+-25 % of the mean: the loop is rendered densely over one cycle and each frame is the dense frame at
its phase). Truth: the simulator's per-frame LV volume gives the true ED/ES (runs of frames within
0.5 % of the range of each extreme; runs touching the clip ends are not scored), and its EF is the
area-length EF of the model's truncated-ellipse LV in the plane through its long axis (``Cine.ef``;
v2 slices that LV by a jittered probe pose, so its masks are not always through the axis).
Per beat: found = ED and ES both within 2 frames of a true beat; spurious = matches no true beat.

``--segmenter engines/lvseg_aspp.onnx``: the same cines rendered with images (160x160), each frame's mask
from that segmenter through the runtime path (:class:`rtecho.cardiac.segment.LVSegmenter`: sector,
crop, 112x112, mask back to the frame), scored against the same truth; the ``jitter`` group (a stand-in
for a segmenter) is left out.

``--seed S``: cines ``[S, sim, k]`` instead (default 20261201, the held-out set). The tracker's settings
were chosen on ``--seed 20261299`` (validation: no segmenter or classifier trained on it; the
segmenters' training cines are seeds 100000..100479); report the held-out figures, do not tune on
them. ``--cache DIR`` keeps each cine's segmenter masks, confidences and truth (``.npz``), so that a
rerun with other tracker settings needs neither rendering nor the segmenter.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from rtecho.cardiac import TrackerConfig, measure_lv, track_clip
from rtecho.cardiac.score import score_beats

SEED = 20261201
VIEWS = ("A4C", "A2C")


def _renderer(sim: str):
    if sim == "v2":
        from rtecho.synth.heart3d.cine import render_cine
    else:
        from rtecho.synth.cine import render_cine
    return render_cine


def _clip(sim: str, k: int, group: str, images: bool = False, seed: int = SEED):
    rng = np.random.default_rng([seed, 1 if sim == "v1" else 2, k])
    ef, hr, fps = float(rng.uniform(20, 75)), float(rng.uniform(45, 130)), float(rng.uniform(20, 80))
    dur = float(rng.uniform(4.0, 6.0))
    view = VIEWS[k % 2]
    render = _renderer(sim)
    n = int(dur * fps)
    if group != "irregular":
        c = render(view, rng, n_frames=n, fps=fps, ef=ef, heart_rate=hr, **_look(images))
        idx = np.arange(n)
        if group == "dropped":
            keep = rng.random(n) > 0.1
            s = int(rng.integers(5, n - 5))
            keep[s : s + 3] = False
            idx = idx[keep]
        return c, (c.frames if images else c.lv_masks)[idx], c.volumes, idx, idx / fps, fps, hr
    dense_fps = 300.0
    m = int(math.ceil(dense_fps * 60.0 / hr)) + 2
    c = render(view, rng, n_frames=m, fps=dense_fps, ef=ef, heart_rate=hr, **_look(images))
    # phase of dense frame j is phase0 + j * hr / (60 dense_fps); pick frame by phase for irregular RR
    mean_rr = 60.0 / hr
    t = np.arange(n) / fps
    edges = [0.0]
    while edges[-1] < dur + 2:
        edges.append(edges[-1] + mean_rr * float(rng.uniform(0.75, 1.25)))
    edges = np.asarray(edges)
    beat = np.searchsorted(edges, t, side="right") - 1
    phase = beat + (t - edges[beat]) / (edges[beat + 1] - edges[beat])  # cycles since the start
    step = hr / (60.0 * dense_fps)
    j = np.rint((phase % 1.0) / step).astype(int) % int(round(1 / step))
    j = np.clip(j, 0, m - 1)
    idx = np.arange(n)
    return c, (c.frames if images else c.lv_masks)[j], c.volumes[j], idx, t, fps, hr


_SIZE = (160, 160)


def _look(images: bool) -> dict:
    return {"size_hw": _SIZE} if images else {"masks_only": True}


GROUPS = ("regular", "dropped", "irregular", "jitter")


def _jitter(masks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Segmenter-like boundary noise: each frame's mask eroded or dilated by 0-1 px (4-neighbour), at random."""
    out = masks.copy()
    for i, m in enumerate(masks):
        k = int(rng.integers(-1, 2))
        if k == 0:
            continue
        p = np.pad(m, 1)
        nb = [p[1:-1, 1:-1], p[:-2, 1:-1], p[2:, 1:-1], p[1:-1, :-2], p[1:-1, 2:]]
        out[i] = np.logical_or.reduce(nb) if k > 0 else np.logical_and.reduce(nb)
    return out


def _segmented(sim, kk, group, seg_path, engine, seed, cache):
    """The cine and its segmenter masks (and confidences), from ``cache`` (a folder) when there."""
    from rtecho.cardiac.segment import LVSegmenter

    f = None
    if cache is not None:
        f = Path(cache) / f"{Path(seg_path).stem}-{seed}-{sim}-{group}-{kk}.npz"
        if f.exists():  # no rendering: the cine's truth is in the file too
            z = np.load(f)
            masks = np.unpackbits(z["masks"], axis=-1, count=_SIZE[1]).astype(bool)
            c = SimpleNamespace(view=VIEWS[kk % 2], ef=float(z["ef"]))
            return c, masks, z["conf"], z["volumes"], z["idx"], z["t"], float(z["fps"]), float(z["hr"])
    c, frames, volumes, idx, t, fps, hr = _clip(sim, kk, group, images=True, seed=seed)
    seg = LVSegmenter(engine)  # a new segmenter per cine: its sector tracker starts afresh
    out = [seg.segment(frame) for frame in frames]
    masks = np.stack([o.mask for o in out])
    conf = np.asarray([o.confidence for o in out], np.float64)
    if f is not None:
        f.parent.mkdir(parents=True, exist_ok=True)
        truth = c.lv_masks if group != "irregular" else None  # (the irregular group's frames are resampled)
        np.savez_compressed(
            f,
            masks=np.packbits(masks, axis=-1),
            conf=conf,
            volumes=volumes,
            idx=idx,
            t=t,
            ef=c.ef,
            fps=fps,
            hr=hr,
            true_area=np.zeros(0) if truth is None else truth[idx].sum(axis=(1, 2)),
        )
    return c, masks, conf, volumes, idx, t, fps, hr


def run(
    n_per_group: int,
    smooth_s: float | None = None,
    segmenter: str | None = None,
    seed: int = SEED,
    cache: Path | None = None,
    config: TrackerConfig | None = None,
) -> dict:
    rows = []
    seg = None
    if segmenter is not None:
        from rtecho.runtime import load_engine

        seg = engine = load_engine(segmenter, threads=1).open()
    for sim in ("v1", "v2"):
        for gi, group in enumerate(GROUPS):
            if seg is not None and group == "jitter":
                continue
            for k in range(n_per_group):
                kk = k + 1000 * gi
                conf = None
                if seg is not None:
                    c, masks, conf, volumes, idx, t, fps, hr = _segmented(
                        sim, kk, group, segmenter, engine, seed, cache
                    )
                else:
                    c, masks, volumes, idx, t, fps, hr = _clip(sim, kk, group, seed=seed)
                if group == "jitter":
                    masks = _jitter(masks, np.random.default_rng([seed, 9, kk]))
                t0 = time.perf_counter()
                shapes = [measure_lv(mm) for mm in masks]
                t1 = time.perf_counter()
                cfg = config or TrackerConfig()
                if smooth_s is not None:
                    cfg = replace(cfg, smooth_s=smooth_s)
                beats, tracker = track_clip(shapes, t, indices=idx, config=cfg, confidences=conf)
                t2 = time.perf_counter()
                sc = score_beats([(b.ed_index, b.es_index) for b in beats], volumes)
                per = [
                    {
                        "ed": b.ed_index,
                        "es": b.es_index,
                        "ef_disc": round(b.ef_disc, 2),
                        "ef_area_length": round(b.ef_area_length, 2),
                        "quality": list(b.quality),
                        "lag_ms": round(1000 * (b.emitted_time - b.es_time), 1),
                    }
                    for b in beats
                ]
                good = [beats[j] for j, _ in sc.matched]
                rows.append(
                    {
                        "sim": sim,
                        "group": group,
                        "view": c.view,
                        "ef_true": round(c.ef, 2),
                        "hr": round(hr, 1),
                        "fps": round(fps, 1),
                        "frames": int(len(idx)),
                        "true_beats": sc.true_beats,
                        "found": sc.found,
                        "spurious": sc.spurious,
                        "boundary": sc.boundary,
                        "clip_ef_disc": tracker.running_ef,
                        "clip_ef_area_length": tracker.running_ef_area_length,
                        "hr_est": tracker.heart_rate,
                        "beat_err_disc": [b.ef_disc - c.ef for b in good],
                        "beat_err_al": [b.ef_area_length - c.ef for b in good],
                        "measure_ms_per_frame": 1000 * (t1 - t0) / len(idx),
                        "track_ms_per_frame": 1000 * (t2 - t1) / len(idx),
                        "beats": per,
                    }
                )
                print(
                    f"{sim} {group:9s} {c.view} EF {c.ef:5.1f} HR {hr:5.1f} fps {fps:4.1f}: "
                    f"{sc.found}/{sc.true_beats} found, {sc.spurious} spurious, clip EF "
                    f"{tracker.running_ef if tracker.running_ef is None else round(tracker.running_ef, 1)}",
                    flush=True,
                )
    return summarise(rows)


def _stats(rows: list[dict]) -> dict:
    tb = sum(r["true_beats"] for r in rows)
    found = sum(r["found"] for r in rows)
    ed = [e for r in rows for e in r["beat_err_disc"]]
    ea = [e for r in rows for e in r["beat_err_al"]]
    cd = [r["clip_ef_disc"] - r["ef_true"] for r in rows if r["clip_ef_disc"] is not None]
    ca = [r["clip_ef_area_length"] - r["ef_true"] for r in rows if r["clip_ef_area_length"] is not None]
    good = [b["ef_disc"] - r["ef_true"] for r in rows for b in r["beats"] if not b["quality"]]
    lags = [b["lag_ms"] for r in rows for b in r["beats"]]
    flagged = sum(1 for r in rows for b in r["beats"] if b["quality"])
    nb = sum(len(r["beats"]) for r in rows)

    def mae(x: list[float]) -> float | None:
        return round(float(np.mean(np.abs(x))), 3) if x else None

    return {
        "cines": len(rows),
        "true_beats": tb,
        "found": found,
        "recall": round(found / tb, 4) if tb else None,
        "spurious": sum(r["spurious"] for r in rows),
        "boundary": sum(r["boundary"] for r in rows),
        "beats_flagged": flagged,
        "beats_emitted": nb,
        "beat_ef_mae_disc": mae(ed),
        "beat_ef_mae_area_length": mae(ea),
        "beat_ef_mae_disc_unflagged": mae(good),
        "beat_ef_bias_disc": round(float(np.mean(ed)), 3) if ed else None,
        "clip_ef_mae_disc": mae(cd),
        "clip_ef_mae_area_length": mae(ca),
        "clips_without_ef": sum(1 for r in rows if r["clip_ef_disc"] is None),
        "lag_ms_p50": float(np.percentile(lags, 50)) if lags else None,
        "lag_ms_max": float(np.max(lags)) if lags else None,
        "ms_per_frame_measure_p50": round(float(np.median([r["measure_ms_per_frame"] for r in rows])), 4),
        "ms_per_frame_track_p50": round(float(np.median([r["track_ms_per_frame"] for r in rows])), 4),
    }


def summarise(rows: list[dict]) -> dict:
    out: dict = {"all": _stats(rows)}
    for sim in ("v1", "v2"):
        out[sim] = _stats([r for r in rows if r["sim"] == sim])
        for g in GROUPS:
            out[f"{sim}_{g}"] = _stats([r for r in rows if r["sim"] == sim and r["group"] == g])
    return {"summary": out, "rows": rows}


def resummarise(path: Path) -> dict:
    """Recompute the summary of a results file from its rows (after a change to the statistics)."""
    res = json.loads(path.read_text())
    res["summary"] = summarise(res["rows"])["summary"]
    path.write_text(json.dumps(res, indent=1, default=float))
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--n", type=int, default=20, help="cines per simulator and group (default 20: 120 in all)"
    )
    ap.add_argument(
        "--smooth", type=float, default=None, help="tracker smoothing +-S s (default: the tracker's 0.05)"
    )
    ap.add_argument("--segmenter", default=None, help="masks from this segmenter (ONNX) instead of the truth")
    ap.add_argument(
        "--seed", type=int, default=SEED, help=f"cine seeds [SEED, sim, k] (default {SEED}: the held-out set)"
    )
    ap.add_argument("--cache", type=Path, default=None, help="keep the segmenter's masks in this folder")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    t0 = time.time()
    res = run(args.n, args.smooth, args.segmenter, args.seed, args.cache)
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    res["meta"] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(time.time() - t0, 1),
        "loadavg": load,
        "machine": platform.machine(),
        "masks": f"segmenter {args.segmenter}" if args.segmenter else "true simulator masks (masks_only)",
        "smooth_s": TrackerConfig().smooth_s if args.smooth is None else args.smooth,
        "seed": args.seed,
        "held_out": args.seed == SEED,
    }
    out = args.out or Path("benchmarks/results") / f"ef-{datetime.now(timezone.utc):%Y%m%d}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1, default=float))
    print(json.dumps(res["summary"], indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
