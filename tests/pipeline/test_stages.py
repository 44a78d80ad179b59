"""The stage contract: wiring checked when a pipeline is built, one Prediction per frame, several
engines per frame with a stage skipped by condition, a stage added by one registration line, and the
per-frame work done once (check_image)."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, fields

import numpy as np
import pytest

import rtecho.types
from rtecho.pipeline import (
    FramePipeline,
    FrameRecord,
    Stage,
    StageSpec,
    StreamProcessor,
    build_pipeline,
    register_stage,
)
from rtecho.pipeline import stages as stages_mod
from rtecho.pipeline import ultrasound as us_stages
from rtecho.pipeline.compose import unregister_stage
from rtecho.runtime import load_engine
from rtecho.runtime.ort import OrtEngine
from rtecho.runtime.preprocess import Preprocessor
from rtecho.runtime.tiny import build_tiny_classifier
from rtecho.synth import render_screen
from rtecho.types import Frame, Prediction
from rtecho.ultrasound import ModeGate, SectorDetector, TemporalSmoother
from tests.pipeline.helpers import make_engine

PLAIN_KEYS = ["decode", "wait", "preprocess", "infer", "postprocess", "end_to_end"]


def _frames(n, size_hw=(96, 128), seed=0):
    rng = np.random.default_rng(seed)
    return [
        Frame(rng.integers(0, 255, (*size_hw, 3), dtype=np.uint8), index=i, timestamp=i / 30)
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def second_onnx(tmp_path_factory):
    """Another model: its own input size, weights and name (a stand-in for a segmenter)."""
    return build_tiny_classifier(
        tmp_path_factory.mktemp("second") / "second.onnx", size_hw=(32, 32), seed=7, name="second"
    )


# -- a stage defined here: its config, its class, and one registration line in the test ------------


@dataclass(frozen=True)
class SecondConfig:
    min_confidence: float = (
        0.0  # run only when the classifier is at least this sure (cf. "apical views only")
    )


class SecondModel(Stage):
    """Runs a second engine on its own preprocessing of the frame, only when the classifier is sure."""

    name, inputs, outputs, timing = "second", ("image", "probabilities", "index"), ("second_logits",), "infer"

    def __init__(self, engine, config=None):
        from rtecho.pipeline.contract import config_for

        self.config = config_for(SecondConfig, config, self.name)
        self.engine, self.engines = engine, (engine,)
        self.pre = Preprocessor(engine.card)

    def when(self, rec):
        return rec.probabilities is not None and rec.probabilities[rec.index] >= self.config.min_confidence

    def __call__(self, rec):
        rec.second_logits = self.engine.infer(self.pre.apply(rec.image))[0]


@pytest.fixture
def registered():
    spec = register_stage(
        StageSpec(
            "second",
            lambda ctx, c: SecondModel(ctx.engines["second"], c) if "second" in ctx.engines else None,
        ),
        after="softmax",
    )
    yield spec
    unregister_stage("second")


def test_two_engines_per_frame_with_a_stage_skipped_by_condition(tiny_onnx, second_onnx, registered):
    engine, second = make_engine(tiny_onnx), load_engine(second_onnx)
    frames = _frames(8)
    with build_pipeline(engine) as plain:
        conf = [plain(f)[0].confidence for f in frames]
    threshold = float(np.median(conf))
    pipe = build_pipeline(engine, engines={"second": second}, second={"min_confidence": threshold})
    assert pipe.describe().endswith(
        "softmax(logits -> probabilities, index, accepted) -> second(image, probabilities, index -> second_logits)"
    )
    assert set(map(id, pipe.engines)) == {id(engine), id(second)}
    with pipe:
        assert engine.is_open and second.is_open
        recs = [pipe.run(f) for f in frames]
    assert not second.is_open
    ran = [r.second_logits is not None for r in recs]
    assert ran == [c >= threshold for c in conf] and 0 < sum(ran) < len(ran)  # some ran, some skipped
    with second:
        for r in recs:
            if r.second_logits is not None:
                want = second.infer(Preprocessor(second.card)(r.image))[0]
                assert np.array_equal(r.second_logits, want) and want.shape == (len(second.card.labels),)
    # the second engine's time counts in infer; the Prediction's keys and its classifier result are as without it
    with build_pipeline(engine) as plain, pipe:
        for f in frames[:3]:
            rec = pipe.run(f)
            p, q = pipe(f)[0], plain(f)[0]
            assert list(p.timings_ms) == PLAIN_KEYS and set(rec.stage_ms) == {
                "preprocess",
                "classify",
                "softmax",
                "second",
            }
            assert np.array_equal(p.probabilities, q.probabilities) and p.label == q.label


def test_a_registered_stage_runs_in_the_stream_processor(tiny_onnx, second_onnx, registered):
    engine, second = make_engine(tiny_onnx), load_engine(second_onnx)
    pipe = build_pipeline(engine, engines={"second": second})
    with StreamProcessor(engine, pipeline=pipe) as proc:
        assert second.is_open  # the processor opens every engine of its pipeline
        preds = [proc.process(f.image, timestamp=f.timestamp) for f in _frames(3)]
    assert not second.is_open and all(p.ok for p in preds)


def test_a_stage_reading_what_no_earlier_stage_gives_is_refused(tiny_onnx, second_onnx):
    register_stage(
        StageSpec("second", lambda ctx, c: SecondModel(ctx.engines["second"], c)), after="classify"
    )
    try:
        with pytest.raises(ValueError, match=r"reads \['probabilities', 'index'\]"):
            build_pipeline(make_engine(tiny_onnx), engines={"second": load_engine(second_onnx)})
    finally:
        unregister_stage("second")


class _Give(Stage):
    def __init__(self, name, inputs=(), outputs=(), timing="postprocess"):
        self.name, self.inputs, self.outputs, self.timing = name, inputs, outputs, timing

    def __call__(self, rec):
        for f in self.outputs:
            setattr(rec, f, 1)


@pytest.mark.parametrize(
    "stages,match",
    [
        ([_Give("a", ("x",))], "reads"),
        ([_Give("a"), _Give("a")], "taken"),
        ([_Give("a", timing="decode")], "timing"),
        ([_Give("a", outputs=("prediction",))], "runner"),
        ([_Give("draw", ("prediction",)), _Give("late", outputs=("index",))], "after the prediction"),
    ],
)
def test_bad_wiring_is_refused_when_built(stages, match, tiny_onnx):
    with pytest.raises(ValueError, match=match):
        FramePipeline(stages, card=make_engine(tiny_onnx).card)


class _Early(_Give):
    """Starts early from ``reads``, collects its start in __call__."""

    def __init__(self, name, reads=(), outputs=("early",)):
        super().__init__(name, (), outputs)
        self.start_inputs = reads
        self.log = []

    def start(self, rec):
        self.log.append(("start", rec.frame.index, rec.a))

    def __call__(self, rec):
        self.log.append(("call", rec.frame.index))
        rec.early = 1


class _Spy(_Give):
    """Records what ``watch`` had logged when this stage ran."""

    def __init__(self, name, inputs, outputs, watch):
        super().__init__(name, inputs, outputs)
        self.watch, self.seen = watch, []

    def __call__(self, rec):
        self.seen.append(list(self.watch.log))
        super().__call__(rec)


def test_an_early_start_runs_after_its_stage_and_before_the_ones_between(tiny_onnx):
    card = make_engine(tiny_onnx).card
    early = _Early("early", ("a",))
    b = _Spy("b", ("a",), ("b",), early)
    rec = FramePipeline([_Give("a", outputs=("a",)), b, early], card=card).run(_frames(1)[0])
    assert b.seen == [[("start", 0, 1)]] and early.log == [("start", 0, 1), ("call", 0)]
    assert rec.early == 1 and set(rec.stage_ms) == {"a", "b", "early"}
    # from the runner's fields only: before the first stage; right after its inputs' stage: no early start
    first = _Early("early", ("image",))
    first.start = lambda rec: first.log.append(("start", rec.frame.index))
    FramePipeline([_Give("a", outputs=("a",)), first], card=card).run(_frames(1)[0])
    assert first.log == [("start", 0), ("call", 0)]
    late = _Early("early", ("a",))
    FramePipeline([_Give("a", outputs=("a",)), late], card=card).run(_frames(1)[0])
    assert late.log == [("call", 0)]


def test_an_early_start_from_what_no_earlier_stage_gives_is_refused(tiny_onnx):
    stages = [_Give("a", outputs=("a",)), _Give("b", ("a",), ("b",)), _Early("early", ("c",))]
    with pytest.raises(ValueError, match="starts early from 'c'"):
        FramePipeline(stages, card=make_engine(tiny_onnx).card)


def test_a_new_field_is_on_every_record_of_the_pipeline(tiny_onnx):
    card = make_engine(tiny_onnx).card
    skip = _Give("area", outputs=("lv_area",))
    skip.when = lambda rec: False
    rec = FramePipeline([skip, _Give("beats", ("lv_area",), ("beat",))], card=card).run(_frames(1)[0])
    assert rec.lv_area is None and rec.beat == 1 and isinstance(rec, FrameRecord)


def test_config_sections_are_checked(tiny_onnx, second_onnx):
    engine = make_engine(tiny_onnx)
    with pytest.raises(ValueError, match="unknown config section"):
        build_pipeline(engine, smoothing={"tau_s": 0.1})
    with pytest.raises(ValueError, match="not in this pipeline"):
        build_pipeline(engine, smooth={"tau_s": 0.1})  # no ultrasound: no smoother
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['tau'\]"):
        build_pipeline(engine, ultrasound=True, smooth={"tau": 0.1})
    with pytest.raises(ValueError, match="run by no stage"):
        build_pipeline(engine, engines={"second": load_engine(second_onnx)})
    pipe = build_pipeline(
        engine, ultrasound=True, smooth=us_stages.SmoothConfig(tau_s=0.5), sector={"window": 4}
    )
    smooth = next(s for s in pipe.stages if s.name == "smooth")
    sector = next(s for s in pipe.stages if s.name == "sector")
    assert smooth.smoother.tau_s == 0.5 and sector.detector.window == 4 and sector.detector.defer


@pytest.mark.parametrize(
    "config,component,skip",
    [
        (us_stages.SectorConfig, SectorDetector, {"defer"}),
        (us_stages.ModeConfig, ModeGate, set()),
        (us_stages.SmoothConfig, TemporalSmoother, {"hold_labels"}),
    ],
)
def test_config_defaults_are_the_components_defaults(config, component, skip):
    params = inspect.signature(component).parameters
    for f in fields(config):
        if f.name not in skip:
            assert f.default == params[f.name].default, f.name


def test_one_prediction_per_frame_also_with_an_overlay(tiny_onnx, monkeypatch):
    made, drawn = [], []

    class Counted(Prediction):
        def __post_init__(self):
            super().__post_init__()
            made.append(self)

    monkeypatch.setattr(stages_mod, "Prediction", Counted)

    def annotate(image, pred):
        drawn.append((pred, dict(pred.timings_ms)))
        return image

    engine = make_engine(tiny_onnx)
    with build_pipeline(engine, ultrasound=True, overlay=annotate) as pipe:
        frame = Frame(render_screen("A4C", np.random.default_rng(0)).image, index=0, timestamp=0.0)
        pred, annotated = pipe(frame)
    assert made == [pred] and drawn[0][0] is pred and annotated is frame.image
    assert list(pred.timings_ms) == [
        "decode",
        "wait",
        "preprocess",
        "infer",
        "postprocess",
        "overlay",
        "end_to_end",
    ]
    assert "overlay" not in drawn[0][1] and drawn[0][1]["end_to_end"] <= pred.timings_ms["end_to_end"]
    t = pred.timings_ms
    stages = t["wait"] + t["preprocess"] + t["infer"] + t["postprocess"] + t["overlay"]
    assert abs(t["end_to_end"] - stages) < 0.5


def test_a_remote_engines_wire_time_is_its_own_timing(tiny_onnx):
    class Remote(OrtEngine):
        def transport_ms(self):
            return 0.25

    base = load_engine(tiny_onnx)
    with build_pipeline(Remote(base.model_path, base.card)) as pipe:
        pred, _ = pipe(_frames(1)[0])
    assert pred.timings_ms["transport"] == 0.25
    assert list(pred.timings_ms) == [
        "decode",
        "wait",
        "preprocess",
        "infer",
        "postprocess",
        "transport",
        "end_to_end",
    ]


@pytest.mark.parametrize("ultrasound", [False, True], ids=["plain", "ultrasound"])
def test_check_image_runs_once_per_frame(tiny_onnx, monkeypatch, ultrasound):
    from rtecho.runtime import preprocess
    from rtecho.ultrasound import _region, _screen, sector

    calls = []
    real = rtecho.types.check_image

    def counting(image, what="frame"):
        calls.append(what)
        return real(image, what)

    for mod in (rtecho.types, preprocess, _screen, sector, _region):
        monkeypatch.setattr(mod, "check_image", counting)
    with build_pipeline(make_engine(tiny_onnx), ultrasound=ultrasound) as pipe:
        for i, view in enumerate(("A4C", "PLAX")):
            screen = render_screen(view, np.random.default_rng(i))
            calls.clear()
            pred, _ = pipe(Frame(screen.image, index=i, timestamp=i / 30))
            assert pred.ok and calls == ["frame"]  # the Frame's own check, no stage's
