"""``rtecho train --sector-crop``: stills also fed as the live ultrasound path frames them.

The framed input of a still is, bit for bit, what a fresh ultrasound pipeline gives the engine for it
(sector found on it, crop, blank, card preprocessing); an epoch picks it with the given probability,
seeded per (epoch, index); validation items stay plain.
"""

from __future__ import annotations

import numpy as np
import pytest

from rtecho.pipeline import build_pipeline
from rtecho.runtime import load_engine
from rtecho.runtime.tiny import build_tiny_classifier
from rtecho.train.data import ArrayDataset, ImageFolderDataset
from rtecho.types import Frame

Image = pytest.importorskip("PIL.Image")
synth = pytest.importorskip("rtecho.synth")


@pytest.fixture(scope="module")
def sim_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("framed")
    rng = np.random.default_rng(11)
    for view in ("A4C", "PLAX"):
        (root / view).mkdir()
        for k in range(3):
            image = synth.render_view(view, rng, size_hw=(160, 160))
            Image.fromarray(image).save(root / view / f"{view}_{k}.png")
    return root


def test_framed_input_is_the_ultrasound_pipelines(sim_folder, tmp_path):
    onnx = build_tiny_classifier(tmp_path / "tiny.onnx", labels=("A4C", "PLAX"))
    with load_engine(onnx) as engine:
        card = engine.card
        ds = ImageFolderDataset(
            sim_folder, size_hw=card.input_size_hw, labels=card.labels, mean=card.mean, std=card.std,
            sector_crop=1.0,
        )  # fmt: skip
        compared = 0
        with build_pipeline(engine, ultrasound=True) as pipe:
            for i, src in enumerate(ds.sources):
                pipe.reset()
                image = np.asarray(Image.open(src))
                rec = pipe.run(Frame(image, index=0, timestamp=0.0))
                if rec.x is None:  # the mode gate did not classify it: nothing to compare
                    continue
                assert np.array_equal(ds.framed[i], rec.x[0]), src
                assert not np.array_equal(ds.framed[i], ds.inputs[i])  # the crop changes the input
                compared += 1
    assert compared >= 4


def test_framed_probability_is_seeded_per_epoch_and_index():
    plain = [np.full((1, 4, 4), float(i), np.float32) for i in range(40)]
    framed = [x + 100 for x in plain]
    framed[3] = None  # an item without a framed input keeps its plain one
    ds = ArrayDataset(None, [0] * 40, ("A4C",), inputs=plain, framed=framed, framed_p=0.5, seed=1)
    picks = []
    for epoch in range(3):
        ds.set_epoch(epoch)
        picks.append([bool(ds.input(i)[0, 0, 0] >= 100) for i in range(40)])
    assert not any(p[3] for p in picks)
    share = np.mean(picks)
    assert 0.3 < share < 0.7  # about half, and not the same items every epoch
    assert picks[0] != picks[1]
    ds.set_epoch(0)
    assert [bool(ds.input(i)[0, 0, 0] >= 100) for i in range(40)] == picks[0]  # reproducible
    always = ds.subset(range(40))
    assert always.framed_p == 0.5
    never = ds.subset(range(40), framed=False)
    assert all(float(never.input(i)[0, 0, 0]) < 100 for i in range(40))
    with pytest.raises(ValueError, match="framed_p"):
        ArrayDataset(None, [0], ("A4C",), inputs=plain[:1], framed_p=1.5)
    with pytest.raises(ValueError, match="framed inputs"):
        ArrayDataset(None, [0], ("A4C",), inputs=plain[:1], framed=framed[:2])


def test_split_keeps_validation_plain(sim_folder):
    ds = ImageFolderDataset(sim_folder, size_hw=(64, 64), sector_crop=1.0)
    train, val = ds.split(0.34, seed=0)
    assert train.framed_p == 1.0 and val.framed_p == 0.0
    for i in range(len(val)):
        assert val.input(i) is val.inputs[i]


def test_cli_rejects_bad_sector_crop(tmp_path, capsys):
    from rtecho.cli import main

    for extra in (
        ["--synth", "2", "--sector-crop", "0.5"],
        ["--data", str(tmp_path), "--sector-crop", "1.5"],
    ):
        assert main(["train", "darts1", *extra, "--out", str(tmp_path / "r")]) != 0
        assert "--sector-crop takes a probability in [0, 1], with --data" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
