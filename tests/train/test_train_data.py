"""Datasets: ImageFolder errors and loading, real stills by name, the simulator dataset."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

import numpy as np
import pytest
import torch

from rtecho.errors import RtechoError
from rtecho.train.data import (
    ArrayDataset,
    DatasetError,
    ImageFolderDataset,
    SynthDataset,
    real_stills,
    scan_folder,
)
from tests.train.helpers import LABELS, make_image


def test_missing_and_empty_folders(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        scan_folder(tmp_path / "nope")
    with pytest.raises(DatasetError, match="no label subfolders"):
        scan_folder(tmp_path)
    (tmp_path / "A4C").mkdir()
    (tmp_path / "A4C" / "notes.txt").write_text("x")
    with pytest.raises(DatasetError, match="holds no images"):
        scan_folder(tmp_path)


def test_unknown_label_folder_is_named_with_a_hint(image_folder):
    (image_folder / "a4c").mkdir()
    with pytest.raises(DatasetError, match=r"'a4c'.*did you mean 'A4C'") as err:
        scan_folder(image_folder)
    assert isinstance(err.value, RtechoError)
    assert "\n" not in str(err.value)


def test_coarse_folder_needs_coarse(tmp_path, image_folder):
    (image_folder / "PSAX").mkdir()
    with pytest.raises(DatasetError, match="coarse label"):
        scan_folder(image_folder)
    (image_folder / "PSAX-MV").mkdir()
    from PIL import Image

    Image.fromarray(np.zeros((8, 8), np.uint8)).save(image_folder / "PSAX-MV" / "x.png")
    labels = {s.label for s in scan_folder(image_folder, use_coarse=True)}
    assert labels == {"A4C", "PLAX", "PSAX"}


def test_image_folder_dataset_tensors_and_split(image_folder):
    ds = ImageFolderDataset(image_folder, size_hw=(16, 24), mean=(0.5,), std=(0.25,))
    assert ds.labels == LABELS and len(ds) == 12
    x, y = ds[0]
    assert x.dtype == torch.float32 and x.shape == (1, 16, 24) and y == 0
    assert ds.targets == [0] * 6 + [1] * 6
    train, val = ds.split(0.34, seed=0)
    assert len(train) + len(val) == 12 and sorted(set(val.targets)) == [0, 1]
    assert not set(train.sources) & set(val.sources)
    ds3 = ImageFolderDataset(image_folder, size_hw=(16, 16), channels=3, mean=(0, 0, 0), std=(1, 1, 1))
    assert ds3[0][0].shape == (3, 16, 16)


def test_dataset_labels_must_cover_the_folder(image_folder):
    with pytest.raises(DatasetError, match="PLAX"):
        ImageFolderDataset(image_folder, size_hw=(16, 16), labels=("A4C", "A2C"))


def test_unreadable_image_is_a_clear_error(image_folder):
    (image_folder / "A4C" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DatasetError, match="broken.png"):
        ImageFolderDataset(image_folder, size_hw=(16, 16))


def test_items_are_normalised_network_inputs():
    ds = ArrayDataset([np.array([[0, 255]], np.uint8)], [0], LABELS, 1, (0.5,), (0.5,))
    assert ds[0][0].tolist() == [[[-1.0, 1.0]]]


def test_real_stills_maps_names(tmp_path):
    from PIL import Image

    for name in ("a2c.png", "psax-ap.png", "test1_plax.jpg", "test2_psax-ap.jpg", "logo.png"):
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / name)
    got = {p.name: lab for p, lab in real_stills(tmp_path)}
    assert got == {
        "a2c.png": "A2C",
        "psax-ap.png": "PSAX-AP",
        "test1_plax.jpg": "PLAX",
        "test2_psax-ap.jpg": "PSAX-AP",
    }
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError):
        real_stills(tmp_path / "empty")


@pytest.fixture
def fake_synth(monkeypatch):
    calls = []

    def render_view(view, rng, size_hw):
        calls.append(view)
        return make_image("A4C" if view == "A4C" else "PLAX", rng, size_hw)

    mod = types.ModuleType("rtecho.synth")
    mod.__path__ = []  # a package, so that rtecho.synth.sims resolves to the fake below
    mod.render_view = render_view
    sims = types.ModuleType("rtecho.synth.sims")
    sims.still_renderer = lambda sim="v1": render_view
    monkeypatch.setitem(sys.modules, "rtecho.synth", mod)
    monkeypatch.setitem(sys.modules, "rtecho.synth.sims", sims)
    return calls


def test_synth_dataset_is_seeded_per_index_and_split(fake_synth):
    ds = SynthDataset(3, views=LABELS, size_hw=(20, 20), seed=5)
    assert len(ds) == 6 and ds.targets == [0, 1, 0, 1, 0, 1]
    a = ds.image(2)
    again = SynthDataset(3, views=LABELS, size_hw=(20, 20), seed=5, cache=False)
    assert np.array_equal(a, again.image(2))
    assert not np.array_equal(a, ds.image(4))
    val = SynthDataset(3, views=LABELS, size_hw=(20, 20), seed=5, split="val")
    assert not np.array_equal(a, val.image(2))
    x, y = ds[3]
    assert x.shape == (1, 20, 20) and y == 1
    fresh = SynthDataset(3, views=LABELS, size_hw=(20, 20), seed=5, fresh_per_epoch=True)
    e0 = fresh.image(0)
    fresh.set_epoch(1)
    assert not np.array_equal(e0, fresh.image(0))
    with pytest.raises(DatasetError, match="unknown"):
        SynthDataset(2, views=("A4C", "NOPE"))


def _has_render_view() -> bool:
    if importlib.util.find_spec("rtecho.synth") is None:
        return False
    try:
        return hasattr(importlib.import_module("rtecho.synth"), "render_view")
    except ImportError:
        return False


@pytest.mark.skipif(
    not _has_render_view(), reason="rtecho.synth.render_view not present (another helper's module)"
)
def test_synth_dataset_with_the_real_simulator():
    ds = SynthDataset(1, views=("A4C", "PLAX"), size_hw=(48, 48), seed=0)
    x, y = ds[1]
    assert x.shape == (1, 48, 48) and y == 1 and float(x.std()) > 0
