"""The cardiac stages in the stream: segment (apical views only, or every frame when the user names the
view) -> beats; beats and EF on a simulator cine with the shipped segmenter; JSONL fields; the overlay;
``rtecho run --ef``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rtecho.cardiac import BeatEvent
from rtecho.io import ArraySource
from rtecho.pipeline import StreamProcessor, build_pipeline
from rtecho.pipeline.cardiac import BeatsStage, SegmentStage, default_segmenter_path
from rtecho.runtime import DEFAULT_MODEL, load_engine
from rtecho.runtime.ort import OrtEngine
from rtecho.runtime.tiny import build_tiny_classifier
from rtecho.synth import render_cine
from rtecho.types import Frame
from rtecho.viz import JsonlSink, default_overlay

FPS = 50.0


@pytest.fixture(scope="module")
def cine():
    return render_cine(
        "A4C", np.random.default_rng(7), n_frames=150, fps=FPS, ef=45, heart_rate=75, size_hw=(128, 128)
    )


@pytest.fixture(scope="module")
def seg():
    return load_engine(default_segmenter_path())


class ScriptedEngine(OrtEngine):
    """A classifier that says ``script[k]`` for its k-th frame (A4C or PLAX), whatever the image."""

    script: list[str] = []

    def _infer(self, batch):
        k = self.calls = getattr(self, "calls", -1) + 1
        z = np.full((batch.shape[0], len(self.card.labels)), -10.0, np.float32)
        z[:, self.card.labels.index(self.script[k % len(self.script)])] = 10.0
        return z


@pytest.fixture()
def scripted(tmp_path):
    path = build_tiny_classifier(tmp_path / "scripted.onnx", labels=("A4C", "PLAX"), name="scripted")
    base = load_engine(path)
    return ScriptedEngine(base.model_path, base.card)


def test_ef_is_off_by_default_and_the_stages_are_wired(seg):
    eng = load_engine(DEFAULT_MODEL)
    assert "segment" not in build_pipeline(eng, ultrasound=True).describe()
    pipe = build_pipeline(eng, ultrasound=True, engines={"segment": seg})
    names = [s.name for s in pipe.stages]
    assert names[-2:] == ["segment", "beats"] and "sector" in pipe.stages[-2].inputs
    assert any(e is seg for e in pipe.engines)
    plain = build_pipeline(eng, ef=True)  # no ultrasound stages: the segmenter tracks the sector itself
    assert isinstance(plain.stages[-2], SegmentStage) and isinstance(plain.stages[-1], BeatsStage)
    assert "smoothed" not in plain.stages[-2].inputs


def test_beats_and_ef_near_truth_on_a_simulator_a4c_cine(cine, seg):
    eng = load_engine(DEFAULT_MODEL)
    got, events = [], []
    pipe = build_pipeline(eng, ultrasound=True, engines={"segment": seg})
    with StreamProcessor(eng, pipeline=pipe, callback=got.append) as proc:
        proc.run(ArraySource(cine.frames, fps=FPS))
    assert len(got) == len(cine.frames) and all(p.ok for p in got)
    events = [b for p in got for b in p.beats]
    assert len(events) >= 2 and all(isinstance(b, BeatEvent) for b in events)
    assert all(b.ok for b in events), [b.quality for b in events]
    v = cine.volumes
    truth_ed = [i for i in range(len(v)) if v[i] == v[max(0, i - 10) : i + 11].max()]
    assert all(min(abs(b.ed_index - t) for t in truth_ed) <= 3 for b in events)
    last = got[-1]
    assert last.lv is not None and last.lv_mask is not None and last.lv_mask.shape == cine.frames.shape[1:]
    assert abs(last.lv["ef"] - cine.ef) < 8, (last.lv["ef"], cine.ef)
    assert last.lv["heart_rate"] == pytest.approx(75, abs=8)
    # the mask follows the simulator's cavity
    k = len(cine.frames) - 1
    inter = (last.lv_mask & cine.lv_masks[k]).sum()
    assert 2 * inter / (last.lv_mask.sum() + cine.lv_masks[k].sum()) > 0.8


class CountingEngine(OrtEngine):
    """The shipped segmenter, counting its inferences."""

    def _infer(self, batch):
        self.calls = getattr(self, "calls", 0) + 1
        return super()._infer(batch)


def test_segment_runs_on_apical_frames_only(cine, seg, scripted):
    # no ultrasound stages: the classified view gates per frame
    counting = CountingEngine(seg.model_path, seg.card)
    scripted.script = ["A4C"] * 10 + ["PLAX"] * 10
    with build_pipeline(scripted, ef=True, engines={"segment": counting}) as pipe:
        for i in range(40):
            before = getattr(counting, "calls", 0)
            pred, _ = pipe(Frame(cine.frames[i], index=i, timestamp=i / FPS))
            apical = (i % 20) < 10
            assert getattr(counting, "calls", 0) - before == int(apical), i
            assert (pred.lv is not None) == apical and (pred.lv_mask is not None) == apical, i
            assert ("lv" in pred.to_dict()) == apical, i


def test_a_named_view_segments_every_frame(cine, seg, scripted):
    scripted.script = ["PLAX"]
    with build_pipeline(scripted, ef=True, engines={"segment": seg}, segment={"view": "A4C"}) as pipe:
        preds = [pipe(Frame(cine.frames[i], index=i, timestamp=i / FPS))[0] for i in range(5)]
    assert all(p.lv_mask is not None and p.lv["view"] == "A4C" for p in preds)


def test_jsonl_has_area_length_beats_and_ef(cine, seg, tmp_path):
    eng = load_engine(DEFAULT_MODEL)
    out = tmp_path / "r.jsonl"
    pipe = build_pipeline(eng, ultrasound=True, ef=True, engines={"segment": seg})
    with JsonlSink(out) as sink, StreamProcessor(eng, pipeline=pipe, sinks=[sink]) as proc:
        proc.run(ArraySource(cine.frames[:120], fps=FPS))
    rows = [json.loads(line) for line in out.read_text().splitlines() if line.startswith("{")]
    rows = [r for r in rows if "frame" in r]
    assert len(rows) == 120
    lv = [r["lv"] for r in rows if r.get("lv")]
    assert len(lv) > 90 and all(x["area"] > 0 and x["length"] > 0 for x in lv)
    beats = [b for r in rows for b in r.get("beats", [])]
    assert beats and {"ed_index", "es_index", "ed_time", "es_time", "ef", "quality"} <= set(beats[0])
    assert any(x["ef"] is not None for x in lv)


def test_overlay_draws_contour_and_ef_and_is_unchanged_without_lv(cine, seg, scripted):
    scripted.script = ["A4C"] * 30 + ["PLAX"] * 30
    with build_pipeline(scripted, ef=True, engines={"segment": seg}, overlay=default_overlay()) as pipe:
        recs = [pipe.run(Frame(cine.frames[i], index=i, timestamp=i / FPS)) for i in range(31)]
    with build_pipeline(scripted, overlay=default_overlay()) as plain:
        scripted.calls = 29  # the next frame is PLAX
        ref = plain.run(Frame(cine.frames[30], index=30, timestamp=30 / FPS))
    a4c, plax = recs[29], recs[30]
    m = a4c.prediction.lv_mask
    from rtecho.cardiac.lv import contour

    edge = contour(m)
    assert (a4c.annotated[edge] == (255, 220, 0)).all(axis=1).mean() > 0.5  # the contour, under the panels
    assert plax.prediction.lv is None
    # no LV: the classifier's overlay is as without ef, but for the trace panel kept from the apical frames
    diff = np.any(plax.annotated != ref.annotated, axis=2)
    assert not diff[: diff.shape[0] // 2, : diff.shape[1] // 2].any()


def test_rtecho_run_ef_cli(tmp_path, capsys):
    from matplotlib.image import imsave

    from rtecho.cli import main

    cine = render_cine(
        "A4C", np.random.default_rng(3), n_frames=100, fps=FPS, ef=55, heart_rate=70, size_hw=(128, 128)
    )
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, im in enumerate(cine.frames):
        imsave(folder / f"{i:04d}.png", im, cmap="gray", vmin=0, vmax=255)
    out = tmp_path / "r.jsonl"
    rc = main(["run", str(folder), "--ultrasound", "--ef-view", "A4C", "--jsonl", str(out), "--no-progress"])
    assert rc == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    rows = [r for r in rows if "frame" in r]
    assert len(rows) == 100 and all(r.get("lv") for r in rows)
    assert "segment" not in capsys.readouterr().err


def _lv_trace(pipe, frames):
    out = []
    for i, img in enumerate(frames):
        rec = pipe.run(Frame(img, index=i, timestamp=i / FPS))
        out.append(
            (
                rec.smoothed_label,
                None if rec.lv_mask is None else rec.lv_mask.copy(),
                rec.lv,
                tuple((b.ed_index, b.es_index, b.ef) for b in rec.beats or ()),
                "segment_worker" in rec.stage_ms,
            )
        )
    return out


@pytest.mark.parametrize("segment", [{"view": "A4C"}, {}])
def test_the_segmenter_beside_the_classifier_gives_the_same_results(cine, seg, segment):
    # concurrent: the engine started after the classifier's preprocessing on a worker thread (a guess
    # from the last frame); the masks, LV fields and beats are those of the sequential pipeline
    eng = load_engine(DEFAULT_MODEL)
    runs = {}
    for concurrent in (False, True):
        cfg = {**segment, "concurrent": concurrent}
        with build_pipeline(eng, ultrasound=True, engines={"segment": seg}, segment=cfg) as pipe:
            stage = next(s for s in pipe.stages if s.name == "segment")
            assert (stage.start_inputs is not None) == concurrent
            after = [pipe.stages[i].name for i, st in pipe._starts.items() if stage in st]
            assert after == (["prepare"] if concurrent else [])  # beside the classifier
            runs[concurrent] = _lv_trace(pipe, cine.frames[:60])
    for a, b in zip(runs[False], runs[True], strict=True):
        assert a[0] == b[0]
        assert (a[1] is None) == (b[1] is None) and (a[1] is None or np.array_equal(a[1], b[1]))
        assert a[2] == b[2] and a[3] == b[3]
        assert not a[4]
    assert sum(r[4] for r in runs[True]) >= (59 if segment else 1)  # the worker ran (all but the first)


def test_a_guess_the_frame_does_not_need_is_discarded(cine, seg, scripted):
    # ultrasound stages with the scripted classifier: A4C frames are segmented, PLAX ones are not; the
    # first PLAX frame after A4C was started on the guess and its result thrown away
    scripted.script = ["A4C"] * 12 + ["PLAX"] * 12
    counting = CountingEngine(seg.model_path, seg.card)
    cfg = {"concurrent": True}
    with build_pipeline(scripted, ultrasound=True, engines={"segment": counting}, segment=cfg) as pipe:
        trace = _lv_trace(pipe, cine.frames[:48])
        pipe.idle()
    labels = [t[0] for t in trace]
    segmented = [t[1] is not None for t in trace]
    assert segmented == [lab in ("A4C", "A2C") for lab in labels]
    assert any(segmented) and not all(segmented)
    # every segmented frame inferred once, plus at most one discarded guess per apical -> other change
    changes = sum(1 for p, q in zip(segmented, segmented[1:], strict=False) if p and not q)
    assert sum(segmented) <= counting.calls <= sum(segmented) + changes


class FailingEngine(OrtEngine):
    def _infer(self, batch):
        from rtecho.errors import EngineError

        raise EngineError("segmenter failed")


def test_a_worker_error_is_that_frames_error_result(cine, seg):
    eng = load_engine(DEFAULT_MODEL)
    bad = FailingEngine(seg.model_path, seg.card)
    cfg = {"view": "A4C", "concurrent": True}
    with build_pipeline(eng, ultrasound=True, engines={"segment": bad}, segment=cfg) as pipe:
        preds = [pipe(Frame(cine.frames[i], index=i, timestamp=i / FPS))[0] for i in range(4)]
    assert all(not p.ok and "segmenter failed" in p.error for p in preds)


def test_a_guess_whose_input_fails_is_not_the_frames_error(cine, seg, scripted, monkeypatch):
    # the early start's input raising (here: on every frame) costs a PLAX frame nothing; an apical frame
    # redoes the work in the stage and reports the error as its own
    from rtecho.errors import FrameError

    scripted.script = ["A4C"] * 10 + ["PLAX"] * 10
    cfg = {"concurrent": True}
    with build_pipeline(scripted, ultrasound=True, engines={"segment": seg}, segment=cfg) as pipe:
        stage = next(s for s in pipe.stages if s.name == "segment")
        preds = [pipe(Frame(cine.frames[i], index=i, timestamp=i / FPS))[0] for i in range(10)]
        assert all(p.ok for p in preds) and any(p.lv is not None for p in preds)

        def bad(rec):
            raise FrameError("bad crop")

        monkeypatch.setattr(stage, "_input", bad)
        preds = [pipe(Frame(cine.frames[i], index=i, timestamp=i / FPS))[0] for i in range(10, 40)]
    # an apical frame (segmented) gives the error; every other frame is a normal, unsegmented result
    assert all(
        ("bad crop" in p.error) if not p.ok else (p.lv is None and p.smoothed_label == "PLAX") for p in preds
    )
    assert any(p.ok for p in preds) and not all(p.ok for p in preds)
