"""The bench's cardiac rows: the segmenter alone and classify vs classify+segment, with CPU time."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rtecho.bench.cardiac import acceptance, bench_pipeline, bench_segmenter, format_rows
from rtecho.bench.clips import Clip
from rtecho.pipeline.cardiac import default_segmenter_path
from rtecho.runtime import DEFAULT_MODEL
from rtecho.synth import render_cine
from rtecho.types import Frame


def _clip(n=12):
    c = render_cine("A4C", np.random.default_rng(5), n_frames=n, fps=30, ef=50, size_hw=(128, 128))
    frames = tuple(Frame(im, index=i, timestamp=i / 30) for i, im in enumerate(c.frames))
    return Clip("sim a4c", "sim://", frames, 30.0, simulated=True)


def test_cardiac_rows():
    clip, seg = _clip(), default_segmenter_path()
    rows = bench_segmenter(seg, [clip], n_frames=15, warmup=2)
    rows += bench_pipeline(DEFAULT_MODEL, seg, [clip], n_frames=15, warmup=2, mode="lockstep")
    assert [r.row for r in rows] == ["segmenter", "classify", "classify+segment", "classify+seg gated"]
    s, c, cs, gated = rows
    assert len(s.ms["infer"]) == 15 and len(s.ms["e2e"]) == 15
    assert s.stat("e2e", 50) >= s.stat("infer", 50) > 0  # the whole segmentation includes the engine call
    assert cs.frames == 15 and len(cs.ms["segment"]) == 15 and "segment" not in c.ms
    assert cs.segmented == 1.0 and len(cs.ms["cardiac"]) == 15  # segment + beats on every frame
    assert (cs.ms["cardiac"] >= cs.ms["segment"]).all()
    # gated: the segmenter only where the classifier says apical; the beats stage runs on every frame
    assert gated.frames == 15 and len(gated.ms["segment"]) == round(15 * gated.segmented)
    assert len(gated.ms["cardiac"]) == 15 and gated.to_dict()["segmented"] == round(gated.segmented, 3)
    assert cs.cpu_ms_per_frame > 0 and cs.models.endswith(Path(seg).stem)  # the default segmenter
    checks = acceptance(rows)
    assert [x["check"].split()[0] for x in checks] == ["segmenter", "classify+segment", "classify+segment"]
    assert [x["clip"] for x in checks] == ["sim a4c"] * 3
    assert "classify+segment" in format_rows(rows) and cs.to_dict()["e2e"]["p99"] is not None
