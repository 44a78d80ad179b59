"""LV segmentation training: runtime-identical crops of simulator cines, Dice, loss, `rtecho train --task segmentation`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rtecho.train.segment import crop_resize, dice, render_cine_sample, sector_crop


def test_dice_of_known_masks():
    a = np.zeros((10, 10), bool)
    a[:5] = True
    b = np.zeros((10, 10), bool)
    b[:, :5] = True
    assert dice(a, a) == 1.0 and dice(a, ~a) == 0.0
    assert dice(a, b) == pytest.approx(2 * 25 / 100)
    assert dice(np.zeros((3, 3)), np.zeros((3, 3))) == 1.0


def test_crop_resize_is_the_runtime_path():
    from rtecho.runtime.preprocess import Preprocessor
    from rtecho.types import ModelCard

    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (90, 120), dtype=np.uint8)
    fan = np.zeros((90, 120), bool)
    fan[10:80, 20:110] = True
    mask = np.zeros((90, 120), bool)
    mask[30:60, 50:80] = True
    roi = sector_crop(fan)
    assert roi == (10, 20, 70, 90)
    img, m = crop_resize(frame, mask, fan, roi, (35, 45))
    card = ModelCard(
        "m", "x", ("background", "LV"), (35, 45), mean=(0.0,), std=(1 / 255,), task="segmentation"
    )
    t, left, h, w = roi
    x = Preprocessor(card)(frame, roi=roi, keep=fan[t : t + h, left : left + w])[0, 0]
    np.testing.assert_allclose(img, x, atol=1e-3)  # what training stores is what the runtime feeds
    assert m.dtype == np.uint8 and m[10:20, 15:25].all() and m.sum() == pytest.approx(15 * 15, rel=0.15)


def test_render_sample_keeps_ed_and_es_with_masks():
    s = render_cine_sample(3, size_hw=(32, 32), frames_per_cine=4)
    assert s.images.shape == (4, 32, 32) and s.masks.shape == (4, 32, 32)
    assert list(s.kinds[:2]) == [1, 2] and s.view in ("A4C", "A2C") and s.sim in ("v1", "v2")
    area = s.masks.reshape(4, -1).sum(1)
    assert area[0] > area[1] > 0  # end-diastole is the larger cavity
    assert 15 <= s.ef <= 80


def test_train_command_segmentation_end_to_end(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("onnxscript")
    from rtecho.cli import main

    out = tmp_path / "run"
    onnx = tmp_path / "seg.onnx"
    argv = [
        "train",
        "lvseg_unet",
        "--task",
        "segmentation",
        "--synth",
        "2",
        "--val-synth",
        "1",
        "--size",
        "32",
    ]
    argv += [
        "--epochs",
        "2",
        "--batch-size",
        "4",
        "--threads",
        "1",
        "--out",
        str(out),
        "--export",
        str(onnx),
        "--quiet",
    ]
    assert main(argv) == 0
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(0.0 <= r["dice"] <= 1.0 for r in rows)
    card = json.loads(onnx.with_suffix(".json").read_text())
    assert card["task"] == "segmentation" and "SIMULATED" in card["training_data"]
    assert card["metrics"]["val_sim"]["n_cines"] == 1
