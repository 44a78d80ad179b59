from __future__ import annotations

import json

import numpy as np
import pytest

from rtecho.pipeline import StreamProcessor
from rtecho.runtime import load_engine
from rtecho.synth import render_screen
from rtecho.types import Prediction
from rtecho.ultrasound.clip import summarize_clip
from rtecho.ultrasound.stage import UltrasoundPostprocessor, UltrasoundPreprocessor


@pytest.fixture(scope="module")
def engine_path(tiny_classifier):
    return tiny_classifier(size_hw=(32, 32))


def test_stream_with_ultrasound_stages(engine_path):
    rng = np.random.default_rng(3)
    screens = [
        render_screen("A4C", rng, mode=m).image for m in ("bmode", "spectral_doppler", "color_doppler")
    ]
    engine = load_engine(engine_path)
    pre = UltrasoundPreprocessor.for_engine(engine, tau_s=0.1, min_stable_s=0.1, min_prob=0.0)
    seen: list[Prediction] = []
    with StreamProcessor(engine, preprocessor=pre, callback=seen.append) as proc:
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


def test_postprocessor_rejects_as_unknown(engine_path):
    from rtecho.ultrasound.calibration import Calibration

    card = load_engine(engine_path).card
    post = UltrasoundPostprocessor(card, calibration=Calibration(1.0, conf_threshold=0.99))
    out = post(np.zeros(len(card.labels), np.float32))
    assert not out.accepted
