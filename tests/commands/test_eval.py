"""`rtecho eval` on a tiny folder of images and a PyAV clip: JSON + PNG with the right keys."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import torch

from rtecho.cli import main
from rtecho.train import evaluate as ev
from rtecho.train.data import ImageFolderDataset, Sample, read_image
from rtecho.train.loop import fit, model_config
from tests.train.helpers import LABELS, TinyNet, make_folder, write_clip

KEYS = {
    "model", "coarse", "clip_rule", "labels", "n", "accuracy", "per_class_accuracy", "macro_precision",
    "macro_recall", "weighted_f1", "kappa", "confusion_matrix", "levels", "n_images", "n_clips", "n_frames",
    "items", "data_dir", "confusion_png",
}  # fmt: skip
needs_io = pytest.mark.skipif(importlib.util.find_spec("rtecho.io") is None, reason="rtecho.io not present")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A TinyNet trained to 100% on the (deterministic) image folder, and its checkpoint; once per module."""
    tmp = tmp_path_factory.mktemp("trained")
    ds = ImageFolderDataset(make_folder(tmp / "data"), size_hw=(32, 32), mean=(0.5,), std=(0.25,))
    torch.manual_seed(1)
    model = TinyNet()
    fit(
        model, ds, ds, epochs=8, batch_size=4, lr=0.02, patience=0, checkpoint_dir=tmp / "run", progress=False
    )
    return model.eval(), tmp / "run" / "last.pt"


@pytest.fixture
def folder_with_clip(image_folder):
    write_clip(image_folder / "PLAX" / "loop.mp4", "PLAX", n=10)
    return image_folder


@pytest.fixture
def tiny_scorer(trained, monkeypatch):
    model, _ = trained

    def fake_scorer_for(name, checkpoint=None, backend=None, precision="fp32"):
        return ev.TorchScorer(model, model_config(model), {"name": "tiny", "architecture": "tiny"})

    monkeypatch.setattr(ev, "scorer_for", fake_scorer_for)
    return model


@needs_io
def test_eval_cli_images_and_clip(folder_with_clip, tiny_scorer, tmp_path):
    out = tmp_path / "res" / "eval.json"
    assert main(["eval", "tiny", str(folder_with_clip), "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert set(r) >= KEYS
    assert (tmp_path / "res" / "eval_confusion.png").read_bytes()[:4] == b"\x89PNG"
    assert r["n_images"] == 12 and r["n_clips"] == 1 and r["n_frames"] == 10 and r["n"] == 13
    assert set(r["levels"]) == {"images", "frames", "clips"}
    assert r["labels"] == list(LABELS)
    assert r["accuracy"] == 1.0 and r["kappa"] == 1.0
    assert r["confusion_matrix"] == [[6, 0], [0, 7]]
    clip = [i for i in r["items"] if i["kind"] == "clip"][0]
    assert clip["truth"] == "PLAX" and clip["pred"] == "PLAX" and clip["n_frames"] == 10
    assert r["model"]["name"] == "tiny"


def test_eval_coarse_maps_truth_and_prediction(image_folder, trained):
    model, _ = trained
    (image_folder / "PSAX-MV").mkdir()
    from PIL import Image

    from tests.train.helpers import make_image

    Image.fromarray(make_image("PLAX", np.random.default_rng(3))).save(image_folder / "PSAX-MV" / "x.png")
    from rtecho.train.data import scan_folder

    samples = scan_folder(image_folder, use_coarse=True)
    with ev.TorchScorer(model, model_config(model)) as scorer:
        r = ev.evaluate_samples(scorer, samples, use_coarse=True)
    assert r["labels"] == ["A4C", "PLAX", "PSAX"]
    assert r["per_class_accuracy"]["PSAX"] == 0.0  # the model cannot say PSAX: counted wrong, not dropped
    assert r["n"] == 13 and r["accuracy"] == pytest.approx(12 / 13)


def test_clip_rules():
    probs = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.3, 0.6, 0.1], [0.95, 0.0, 0.05]])
    labels = ["A4C", "PLAX", "PSAX-AV"]
    assert ev.clip_label(probs, labels, "majority")[0] == "A4C"  # 2:2 tie -> higher mean probability
    assert ev.clip_label(probs[:3], labels, "majority")[0] == "PLAX"
    assert ev.clip_label(probs[1:3], labels, "mean")[0] == "PLAX"


def test_eval_cli_errors(image_folder, tmp_path, capsys):
    out = str(tmp_path / "e.json")
    assert main(["eval", "darts1", str(image_folder), "--json", out]) == 1
    assert "--checkpoint" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "none.onnx"), str(image_folder), "--json", out]) == 1
    (image_folder / "Foo").mkdir()
    assert main(["eval", "x.onnx", str(image_folder), "--json", out]) == 1
    err = capsys.readouterr().err
    assert "'Foo'" in err and err.count("\n") == 2  # one line per error


def test_labels_from_names(tmp_path, trained, monkeypatch):
    from PIL import Image

    from tests.train.helpers import make_image

    rng = np.random.default_rng(0)
    for name, lab in (("a4c.png", "A4C"), ("plax.png", "PLAX"), ("test1_plax.jpg", "PLAX")):
        Image.fromarray(make_image(lab, rng)).save(tmp_path / name)
    model, _ = trained
    monkeypatch.setattr(ev, "scorer_for", lambda *a, **k: ev.TorchScorer(model, model_config(model)))
    out = tmp_path / "r.json"
    assert main(["eval", "tiny", str(tmp_path), "--labels-from-names", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["n"] == 3 and r["per_class_support"] == {"A4C": 1, "PLAX": 2}


def _has_models() -> bool:
    return importlib.util.find_spec("rtecho.models") is not None


@pytest.mark.skipif(not _has_models(), reason="rtecho.models (another helper's registry) not present")
def test_eval_cli_with_registry_model_and_wrong_architecture(image_folder, tmp_path, capsys):
    from rtecho.models import create_model

    model = create_model("darts1", labels=LABELS, img_size=32)
    ckpt = tmp_path / "darts1.pt"
    torch.save(
        {"model": model.state_dict(), "optimizer": {}, "epoch": 0, "config": model_config(model)}, ckpt
    )
    out = tmp_path / "d.json"
    assert main(["eval", "darts1", str(image_folder), "--checkpoint", str(ckpt), "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["model"]["architecture"] == model.config.architecture and r["model"]["source"] == "checkpoint"
    assert r["n"] == 12
    capsys.readouterr()
    assert main(["eval", "stanet", str(image_folder), "--checkpoint", str(ckpt), "--json", str(out)]) == 1
    err = capsys.readouterr().err
    assert model.config.architecture in err and "stanet" in err.lower()
    assert (
        main(["eval", "no_such_model", str(image_folder), "--checkpoint", str(ckpt), "--json", str(out)]) == 1
    )


@pytest.mark.skipif(importlib.util.find_spec("rtecho.runtime") is None, reason="rtecho.runtime not present")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_eval_onnx_matches_torch(image_folder, trained, tmp_path):
    """The ONNX path (runtime preprocessing from the card) gives the torch path's probabilities."""
    from rtecho.runtime.model_file import sha256_file
    from rtecho.types import ModelCard

    model, _ = trained
    onnx_path = tmp_path / "tiny.onnx"
    torch.onnx.export(model, (torch.zeros(1, 1, 32, 32),), str(onnx_path), dynamo=False, input_names=["x"],
                      output_names=["logits"], dynamic_axes={"x": {0: "n"}})  # fmt: skip
    cfg = model.config
    card = ModelCard(
        "tiny",
        "tiny",
        cfg.labels,
        cfg.input_size_hw,
        1,
        cfg.mean,
        cfg.std,
        onnx_sha256=sha256_file(onnx_path),
    )
    card.save(onnx_path.with_suffix(".json"))
    samples = [Sample(p, p.parent.name, "image") for p in sorted(image_folder.glob("*/*.png"))]
    with ev.scorer_for(onnx_path) as scorer:
        r_onnx = ev.evaluate_samples(scorer, samples)
        p_onnx = scorer.probabilities([read_image(samples[0].path)])
    with ev.TorchScorer(model, model_config(model)) as scorer:
        r_torch = ev.evaluate_samples(scorer, samples)
        p_torch = scorer.probabilities([read_image(samples[0].path)])
    np.testing.assert_allclose(p_onnx, p_torch, atol=1e-4)
    assert r_onnx["confusion_matrix"] == r_torch["confusion_matrix"]
    assert r_onnx["model"]["source"] == "onnx" and len(r_onnx["model"]["sha256"]) == 64
