"""fit(): checkpoints, JSONL log, resume, early stopping, aux loss; checkpoint safety and architecture checks."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import pytest
import torch

from rtecho.errors import RtechoError
from rtecho.train.data import ImageFolderDataset
from rtecho.train.loop import CheckpointError, fit, load_checkpoint
from tests.train.helpers import OtherNet, TinyNet


@pytest.fixture
def splits(image_folder):
    ds = ImageFolderDataset(image_folder, size_hw=(32, 32), mean=(0.5,), std=(0.25,))
    return ds.split(0.34, seed=0)


def test_one_epoch_writes_checkpoints_and_resume_continues(splits, tmp_path):
    train, val = splits
    out = tmp_path / "run"
    torch.manual_seed(0)
    model = TinyNet()
    r1 = fit(model, train, val, epochs=3, batch_size=4, checkpoint_dir=out, progress=False, patience=0)
    assert r1.epochs_run == 3 and [h["epoch"] for h in r1.history] == [1, 2, 3]
    # a fresh run of 1 epoch, then resume to 2
    out2 = tmp_path / "run2"
    r = fit(TinyNet(), train, val, epochs=2, batch_size=4, checkpoint_dir=out2, progress=False)
    assert r.epochs_run == 2
    lines = [json.loads(x) for x in (out2 / "log.jsonl").read_text().splitlines()]
    assert [x["epoch"] for x in lines] == [1, 2]
    assert {"train_loss", "val_loss", "val_acc", "lr", "time_s"} <= set(lines[0])
    assert (out2 / "best.pt").exists() and (out2 / "last.pt").exists()
    assert json.loads((out2 / "config.json").read_text())["architecture"] == "tiny"

    ckpt = torch.load(out2 / "last.pt", weights_only=True)
    assert set(ckpt) >= {"model", "optimizer", "epoch", "config"} and ckpt["epoch"] == 2
    assert ckpt["config"]["labels"] == ["A4C", "PLAX"] and ckpt["config"]["train"]["batch_size"] == 4

    resumed = TinyNet()
    r2 = fit(resumed, train, val, epochs=4, batch_size=4, checkpoint_dir=out2, resume=True, progress=False)
    assert [h["epoch"] for h in r2.history] == [3, 4]
    assert torch.load(out2 / "last.pt", weights_only=True)["epoch"] == 4
    assert len((out2 / "log.jsonl").read_text().splitlines()) == 4
    # the cosine schedule continued: the lr of epoch 3 is below epoch 1's
    assert r2.history[0]["lr"] < lines[0]["lr"]
    # and it was stretched to the new length, not left at the end of the old one (a 2-epoch cosine
    # ends at eta_min): epochs 3 and 4 follow lr_t = eta_min + (lr_0 - eta_min)(1 + cos(pi t / 4)) / 2
    lr0 = lines[0]["lr"]
    eta = lr0 * 0.01  # fit's default eta_min_frac
    expected = [eta + (lr0 - eta) * (1 + math.cos(math.pi * t / 4)) / 2 for t in (2, 3)]
    assert [h["lr"] for h in r2.history] == pytest.approx(expected, rel=0.05)


def test_resume_loads_the_saved_weights(splits, tmp_path):
    train, val = splits
    out = tmp_path / "run"
    model = TinyNet()
    fit(model, train, val, epochs=1, batch_size=4, checkpoint_dir=out, progress=False)
    fresh = TinyNet()
    load_checkpoint(out / "last.pt", fresh)
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_resume_without_checkpoint_is_clear(splits, tmp_path):
    train, val = splits
    with pytest.raises(CheckpointError, match="nothing to resume"):
        fit(TinyNet(), train, val, epochs=1, checkpoint_dir=tmp_path / "empty", resume=True, progress=False)


def test_training_learns_and_aux_head_is_used(splits):
    train, val = splits
    torch.manual_seed(1)
    model = TinyNet(aux=True)
    r = fit(model, train, val, epochs=8, batch_size=4, lr=0.02, patience=0, progress=False, select_ratio=1.5)
    assert r.history[-1]["val_acc"] == 1.0
    assert model.aux_head.weight.grad is not None  # the aux loss reached the aux head


def test_channels_last_trains_the_same_weights(splits):
    # NHWC is a memory layout only: the same seed gives the same weights (to float rounding; SGD,
    # as Adam blows up the rounding noise of gradients that BN makes ~0, such as a conv bias)
    train, val = splits
    states = []
    for cl in (True, False):
        torch.manual_seed(3)
        model = TinyNet()
        fit(model, train, val, epochs=2, batch_size=4, optimizer="sgd", progress=False, channels_last=cl)
        states.append(model.state_dict())
    for k, v in states[0].items():
        assert torch.allclose(v.float(), states[1][k].float(), atol=1e-4), k


def test_balanced_sampling_and_sgd_run(splits):
    train, val = splits
    r = fit(TinyNet(), train, val, epochs=1, batch_size=4, optimizer="sgd", balanced=True, progress=False)
    assert r.history[0]["n_train"] == 4 * (len(train) // 4)
    with pytest.raises(ValueError, match="optimizer"):
        fit(TinyNet(), train, val, epochs=1, optimizer="rmsprop", progress=False)


def test_early_stopping(splits):
    train, val = splits
    r = fit(TinyNet(), train, val, epochs=50, batch_size=4, patience=2, min_delta=10.0, progress=False)
    assert r.stopped_early and r.epochs_run == 3 and r.best_epoch == 1


def test_checkpoint_into_another_architecture_is_a_clear_error(splits, tmp_path):
    train, val = splits
    out = tmp_path / "run"
    fit(TinyNet(), train, val, epochs=1, batch_size=4, checkpoint_dir=out, progress=False)
    with pytest.raises(CheckpointError, match=r"'tiny'.*'other'") as err:
        load_checkpoint(out / "best.pt", OtherNet())
    assert isinstance(err.value, RtechoError)
    # same architecture name, different head size: still a clear error naming the architecture
    with pytest.raises(CheckpointError, match="does not fit"):
        load_checkpoint(out / "best.pt", TinyNet(labels=("A4C", "PLAX", "A2C")))


def test_unsafe_or_corrupt_checkpoints_are_refused(tmp_path):
    bad = tmp_path / "bad.pt"
    torch.save({"model": {}, "obj": Fraction(1, 3)}, bad)  # a class weights_only does not allow
    with pytest.raises(CheckpointError, match="weights_only"):
        load_checkpoint(bad)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(junk)
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")
    nodict = tmp_path / "nodict.pt"
    torch.save({"weights": torch.zeros(1)}, nodict)
    with pytest.raises(CheckpointError, match="not an rtecho checkpoint"):
        load_checkpoint(nodict)
