"""The models shipped in engines/: cards that match their files, honest provenance, recorded parity,
a held-out accuracy recomputed here on fresh simulator stills, and a real-image check on pydicom's
real A4C cine."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from rtecho.runtime import load_engine, sha256_file
from rtecho.runtime.preprocess import Preprocessor
from rtecho.types import ModelCard, card_path_for
from rtecho.views import VIEWS

ENGINES = Path(__file__).resolve().parents[1] / "engines"
SHIPPED = sorted(p for p in ENGINES.glob("*.onnx") if "." not in p.stem)


def test_models_are_shipped():
    assert {"darts1", "darts2", "uiac", "efficientnet_b0_cbam", "stanet"} <= {p.stem for p in SHIPPED}


@pytest.mark.parametrize("onnx_path", SHIPPED, ids=lambda p: p.stem)
def test_card_matches_file_and_says_what_it_is(onnx_path):
    card = ModelCard.load(card_path_for(onnx_path))
    assert card.onnx_sha256 == sha256_file(onnx_path)
    assert card.trained and "SIMULATED" in card.training_data and "no patient data" in card.training_data
    parity = card.metrics["parity"]
    assert parity["max_abs_logit_diff"] < 1e-3 and parity["argmax_agreement"] >= (
        0.999 if card.task == "segmentation" else 1.0  # per pixel: a logit tie may flip one
    )
    if card.task == "segmentation":  # Dice on fresh held-out cines: tests/models/test_lvseg.py
        return
    assert card.metrics["heldout_sim_onnx"]["n"] >= 1000
    assert card.metrics["heldout_sim_onnx"]["accuracy"] >= 0.95  # the models issue's bar
    for tag, variant in card.variants.items():
        assert sha256_file(onnx_path.with_name(variant.file)) == variant.sha256, tag


#: Fresh simulator stills: a seed none of training (101), validation (202), test (303) or search (404)
#: used; the card's held-out set's recipe otherwise (v1 simulator, default config, 160 px, resized by
#: the runtime Preprocessor to the model's input).
FRESH_SEED, PER_VIEW, FRESH_SIZE = 20261201, 4, (160, 160)
#: The claim is refuted when this many errors or more would happen with probability < ALPHA.
ALPHA = 1e-3
#: ... and the recomputed accuracy must beat chance (1/13) by this margin whatever the card says.
CHANCE_MARGIN = 0.5


@pytest.fixture(scope="module")
def fresh_stills() -> tuple[list[np.ndarray], list[str]]:
    pytest.importorskip("PIL")  # the simulator resizes framed screens with Pillow
    from rtecho.synth import render_view
    from rtecho.synth.config import SynthConfig

    cfg = SynthConfig(size_hw=FRESH_SIZE)
    images, views = [], []
    for v, view in enumerate(VIEWS):
        for i in range(PER_VIEW):
            images.append(render_view(view, np.random.default_rng([FRESH_SEED, 1, v, i]), FRESH_SIZE, cfg))
            views.append(view)
    return images, views


def errors_tail(n: int, errors: int, p_error: float) -> float:
    """P(at least ``errors`` wrong of ``n``) for a classifier whose error rate is ``p_error`` (binomial)."""
    return sum(math.comb(n, k) * p_error**k * (1 - p_error) ** (n - k) for k in range(errors, n + 1))


def test_errors_tail():
    assert errors_tail(10, 0, 0.1) == pytest.approx(1.0)
    assert errors_tail(2, 2, 0.5) == pytest.approx(0.25)
    assert errors_tail(52, 10, 0.05) < ALPHA < errors_tail(52, 8, 0.05)


CLASSIFIERS = [p for p in SHIPPED if ModelCard.load(card_path_for(p)).task == "classification"]


@pytest.mark.parametrize("onnx_path", CLASSIFIERS, ids=lambda p: p.stem)
def test_recomputed_accuracy_agrees_with_the_card(onnx_path, fresh_stills):
    images, views = fresh_stills
    with load_engine(onnx_path) as engine:  # the runtime path: Preprocessor + ONNX Runtime engine
        pre = Preprocessor(engine.card)
        logits = engine.infer(np.concatenate([pre(image) for image in images]))
        labels = engine.card.labels
    predicted = [labels[i] for i in logits.argmax(axis=1)]
    n, errors = len(views), sum(p != v for p, v in zip(predicted, views, strict=True))
    accuracy = 1 - errors / n
    claimed = engine.card.metrics["heldout_sim_onnx"]["accuracy"]
    assert accuracy >= 1 / len(labels) + CHANCE_MARGIN, (accuracy, predicted)
    # the card's claim is refuted if so many errors were this unlikely under it
    p = errors_tail(n, errors, 1 - claimed)
    assert p >= ALPHA, f"{errors}/{n} wrong here, card claims accuracy {claimed:.3f} (P = {p:.2g})"


def test_darts2_recognises_the_real_a4c_cine():
    pytest.importorskip("pydicom")
    from pydicom import examples

    from rtecho.io import open_source
    from rtecho.pipeline import StreamProcessor

    with StreamProcessor(load_engine("darts2")) as proc, open_source(examples.get_path("ybr_color")) as src:
        labels = Counter(p.label for p in proc.stream(src))
    assert labels.most_common(1)[0][0] == "A4C", labels


def test_int8_variant_runs_on_openvino():
    pytest.importorskip("openvino")
    x = np.random.default_rng(0).normal(size=(2, 1, 128, 128)).astype(np.float32)
    with load_engine("darts2", backend="openvino", precision="int8") as eng:
        assert eng.infer(x).shape == (2, 13)
