from __future__ import annotations

import json

import numpy as np
import pytest

from rtecho.pipeline import FrameRecord, StreamProcessor, build_pipeline
from rtecho.pipeline.ultrasound import CalibrateStage, SmoothStage
from rtecho.runtime import load_engine
from rtecho.synth import render_screen
from rtecho.types import Frame, Prediction
from rtecho.ultrasound.calibration import Calibration, softmax_t
from rtecho.ultrasound.clip import summarize_clip


@pytest.fixture(scope="module")
def engine_path(tiny_classifier):
    return tiny_classifier(size_hw=(32, 32))


def test_stream_with_ultrasound_stages(engine_path):
    rng = np.random.default_rng(3)
    screens = [
        render_screen("A4C", rng, mode=m).image for m in ("bmode", "spectral_doppler", "color_doppler")
    ]
    engine = load_engine(engine_path)
    pipe = build_pipeline(
        engine, ultrasound=True, smooth={"tau_s": 0.1, "min_stable_s": 0.1, "min_prob": 0.0}
    )
    seen: list[Prediction] = []
    with StreamProcessor(engine, pipeline=pipe, callback=seen.append) as proc:
        stream = [screens[0]] * 10 + [screens[1]] * 4 + [screens[2]] * 4
        stream = [np.clip(im + rng.integers(0, 3, im.shape), 0, 255).astype(np.uint8) for im in stream]
        preds = [proc.process(im, timestamp=i / 30) for i, im in enumerate(stream)]
    assert [p.mode for p in preds[9:11]] == ["bmode", "spectral_doppler"]
    assert preds[-1].mode == "color_doppler"
    gated = preds[10]
    assert gated.ok and gated.label is None and gated.probabilities is None and "infer" in gated.timings_ms
    assert all(p.label is not None for p in preds if p.mode != "spectral_doppler")
    changes = [p.view_change for p in preds if p.view_change is not None]
    assert len(changes) >= 1 and changes[0].from_label is None
    first = next(p for p in preds if p.view_change is not None)
    d = json.loads(json.dumps(first.to_dict()))
    assert d["view_change"]["to"] == first.smoothed_label
    clip = summarize_clip(preds)
    assert clip.label == changes[-1].to_label and clip.modes["spectral_doppler"] == 4


def test_gated_prediction_validation():
    with pytest.raises(ValueError):
        Prediction(0, 0.0, None, None, None, ("A2C", "A4C"), {}, mode="bmode")
    p = Prediction(0, 0.0, None, None, None, ("A2C", "A4C"), {}, mode="mmode")
    assert p.ok and p.to_dict()["mode"] == "mmode"


def _record(logits: np.ndarray, index: int = 0, timestamp: float = 0.0) -> FrameRecord:
    rec = FrameRecord(
        Frame(np.zeros((8, 8), np.uint8), index=index, timestamp=timestamp), np.zeros((8, 8), np.uint8)
    )
    rec.logits = np.asarray(logits, np.float32)
    return rec


def test_calibrate_stage_rejects_an_unsure_frame_and_accepts_a_sure_one(engine_path):
    card = load_engine(engine_path).card
    k = len(card.labels)
    stage = CalibrateStage(card, {"calibration": Calibration(2.0, conf_threshold=0.9)})
    sure, unsure = np.zeros(k), np.zeros(k)
    sure[3], unsure[3] = 30.0, 2.0  # at T=2: top probability ~1 and ~0.16
    for logits, accepted in ((sure, True), (unsure, False)):
        rec = _record(logits)
        stage(rec)
        assert rec.accepted is accepted and rec.index == 3
        np.testing.assert_allclose(rec.probabilities, softmax_t(logits, 2.0), rtol=1e-6)
    assert stage.when(_record(unsure)) and not stage.when(
        FrameRecord(_record(sure).frame, np.zeros((8, 8), np.uint8))
    )


def test_smooth_stage_holds_on_rejected_frames(engine_path):
    card = load_engine(engine_path).card
    k = len(card.labels)
    cal = CalibrateStage(card, {"calibration": Calibration(1.0, conf_threshold=0.9)})
    smooth = SmoothStage(card, {"tau_s": 0.0, "min_stable_s": 0.0})
    a4c = card.labels.index("A4C")
    sure, unsure = np.zeros(k), np.zeros(k)
    sure[a4c], unsure[(a4c + 1) % k] = 30.0, 3.0
    recs = []
    for i, logits in enumerate((sure, unsure, sure)):
        rec = _record(logits, index=i, timestamp=i / 30)
        cal(rec)
        smooth(rec)
        recs.append(rec)
    assert [r.accepted for r in recs] == [True, False, True]
    assert all(r.smoothed and r.smoothed_label == "A4C" for r in recs)  # the unsure frame did not move it
    assert recs[0].view_change is not None and recs[1].view_change is None and recs[2].view_change is None
