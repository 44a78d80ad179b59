"""Beats and EF through the stream (classifier + segmenter + beats) on 24 simulator cines and the real
120-frame A4C cine, for comparing two rtecho trees (before/after a speed change) frame for frame.

    PYTHONPATH=TREE python benchmarks/ef_equiv.py > OUT.json

Simulator cines: seeds ``[20261201, 1, k]`` as ``benchmarks/ef_check.py`` (EF 20-75, HR 45-130, fps
20-80, A4C/A2C alternating), rendered with images at 200x260, 3-4 s; the segmenter runs on every frame
(``segment={"view": VIEW}``). Per clip: the per-frame LV area (``lv.area``) and the beats (ED/ES index,
EF by area-length and discs), and the true EF for reference. The real cine is pydicom-data's
``color3d_jpeg_baseline.dcm`` (gated by the classifier, as ``rtecho ef``'s default view is A4C).
"""

from __future__ import annotations

import json
import sys

import numpy as np

SEED = 20261201


def _run(frames, fps, view, eng, seg):
    from rtecho.io import ArraySource
    from rtecho.pipeline import StreamProcessor, build_pipeline

    got = []
    pipe = build_pipeline(eng, ultrasound=True, engines={"segment": seg}, segment={"view": view})
    with StreamProcessor(eng, pipeline=pipe, callback=got.append) as proc:
        proc.run(ArraySource(frames, fps=fps))
    area = [None if p.lv is None else p.lv["area"] for p in got]
    beats = [
        {
            "ed": b.ed_index,
            "es": b.es_index,
            "ef_al": round(b.ef_area_length, 6),
            "ef_disc": round(b.ef_disc, 6),
        }
        for p in got
        for b in p.beats
    ]
    return {"area": area, "beats": beats}


def main() -> int:
    from rtecho.pipeline.cardiac import default_segmenter_path
    from rtecho.runtime import DEFAULT_MODEL, load_engine
    from rtecho.synth.cine import render_cine

    eng, seg = load_engine(DEFAULT_MODEL), load_engine(default_segmenter_path())
    out = {"sim": [], "real": None}
    for k in range(24):
        rng = np.random.default_rng([SEED, 1, k])
        ef, hr, fps = float(rng.uniform(20, 75)), float(rng.uniform(45, 130)), float(rng.uniform(20, 80))
        view = ("A4C", "A2C")[k % 2]
        n = int(float(rng.uniform(3.0, 4.0)) * fps)
        c = render_cine(view, rng, n_frames=n, fps=fps, ef=ef, heart_rate=hr, size_hw=(200, 260))
        r = _run(list(c.frames), fps, view, eng, seg)
        r.update(k=k, view=view, true_ef=round(float(c.ef), 3), frames=n)
        out["sim"].append(r)
    from pydicom.data import get_testdata_file

    from rtecho.bench.clips import load_clip

    clip = load_clip(get_testdata_file("color3d_jpeg_baseline.dcm"))
    out["real"] = _run([f.image for f in clip.frames], clip.fps or 30.0, "A4C", eng, seg)
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
