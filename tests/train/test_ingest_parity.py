"""For the same file, the tensor training gives the network equals the tensor the runtime gives the engine.

The runtime side is a real stream: ``FolderSource`` (stills) or ``open_source`` (a clip) through a
``StreamProcessor`` whose engine records every batch it is given. The training side is
``ImageFolderDataset`` (items without augmentation), the search's loader, the evaluation scorers
and the calibration loader, all built from the same model card. Files: PNG 8-bit grey and RGB,
PNG 16-bit grey and RGB, palette and RGBA PNG, JPEG grey and RGB, and the frames of a clip.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rtecho.io import FolderSource, open_source
from rtecho.pipeline import StreamProcessor
from rtecho.runtime import load_engine
from rtecho.runtime.preprocess import Preprocessor
from rtecho.runtime.tiny import build_tiny_classifier
from rtecho.train.data import ImageFolderDataset, scan_folder
from tests.io.images import write_png_rgb16
from tests.train.helpers import write_clip

Image = pytest.importorskip("PIL.Image")


class RecordingEngine:
    """Delegates to a real engine and keeps a copy of every batch given to ``infer``."""

    def __init__(self, engine) -> None:
        self._engine = engine
        self.batches: list[np.ndarray] = []

    def infer(self, batch: np.ndarray) -> np.ndarray:
        self.batches.append(np.array(batch, copy=True))
        return self._engine.infer(batch)

    def __getattr__(self, name: str):
        return getattr(self._engine, name)

    def __enter__(self) -> RecordingEngine:
        self._engine.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._engine.__exit__(*exc)


def _pattern(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A smooth gradient plus noise: every grey level and every resampling weight matters."""
    y, x = np.mgrid[0:h, 0:w]
    return (y * 7 + x * 3) % 256 + rng.integers(0, 40, (h, w))


def write_stills(root: Path) -> list[Path]:
    """One still of each kind under ``root/A4C`` and ``root/PLAX``, sizes unlike the network's."""
    rng = np.random.default_rng(7)
    (root / "A4C").mkdir(parents=True)
    (root / "PLAX").mkdir(parents=True)
    grey = np.clip(_pattern(rng, 61, 83), 0, 255).astype(np.uint8)
    rgb = np.stack([grey, np.roll(grey, 5, axis=1), 255 - grey], axis=-1)
    noise16 = rng.integers(0, 251, (57, 70)).astype(np.uint16)
    grey16 = _pattern(rng, 57, 70).astype(np.uint16) * 251 + noise16  # all 16 bits used
    files = {
        "A4C/png8_grey.png": Image.fromarray(grey),
        "A4C/png8_rgb.png": Image.fromarray(rgb),
        "A4C/png16_grey.png": Image.fromarray(grey16),
        "A4C/palette.png": Image.fromarray(rgb).quantize(colors=64),
        "PLAX/rgba.png": Image.fromarray(np.dstack([rgb, np.full(grey.shape, 128, np.uint8)])),
        "PLAX/jpeg_grey.jpg": Image.fromarray(grey),
        "PLAX/jpeg_rgb.jpg": Image.fromarray(rgb),
    }
    for name, im in files.items():
        im.save(root / name, quality=80) if name.endswith(".jpg") else im.save(root / name)
    # 16-bit RGB: Pillow cannot write it; a minimal PNG written by hand (zlib, filter 0)
    write_png_rgb16(root / "PLAX/png16_rgb.png", rng.integers(0, 65536, (33, 47, 3)).astype(np.uint16))
    paths = [s.path for s in scan_folder(root)]  # natural order: png8_grey before png16_grey
    assert sorted(paths) == sorted(root.rglob("*.*"))
    return paths


@pytest.fixture(scope="module", params=[1, 3], ids=["grey-model", "rgb-model"])
def model(request, tmp_path_factory) -> Path:
    """A tiny classifier with a non-square input (rows != columns catch a transposition)."""
    folder = tmp_path_factory.mktemp(f"tiny{request.param}")
    return build_tiny_classifier(
        folder / "tiny.onnx", size_hw=(36, 44), channels=request.param, labels=("A4C", "PLAX")
    )


def runtime_inputs(model: Path, uri: Path) -> list[np.ndarray]:
    """The (C,H,W) tensors the engine is given when ``uri`` is streamed by the runtime."""
    engine = RecordingEngine(load_engine(model))
    source = open_source(str(uri)) if uri.suffix in (".mp4", ".avi") else FolderSource(uri)
    with StreamProcessor(engine, policy="block") as proc:
        summary = proc.run(source)
    assert summary.errors == 0 and summary.stream_error is None, summary.stream_error
    return [x for batch in engine.batches for x in batch]


def _dataset(model: Path, root: Path, **kw) -> ImageFolderDataset:
    card = load_engine(model).card
    return ImageFolderDataset(
        root,
        size_hw=card.input_size_hw,
        labels=card.labels,
        channels=card.channels,
        mean=card.mean,
        std=card.std,
        **kw,
    )


def test_stills_training_tensor_equals_runtime_tensor(model, tmp_path):
    files = write_stills(tmp_path / "data")
    ds = _dataset(model, tmp_path / "data")
    assert [Path(s) for s in ds.sources] == files and len(ds) == 8
    for i, source in enumerate(ds.sources):
        (want,) = runtime_inputs(model, Path(source))
        got = ds[i][0].numpy()
        assert got.dtype == want.dtype == np.float32
        assert np.array_equal(got, want), f"{Path(source).name}: max diff {np.abs(got - want).max()}"


def test_clip_frames_training_tensor_equals_runtime_tensor(model, tmp_path):
    (tmp_path / "data" / "A4C").mkdir(parents=True)
    (tmp_path / "data" / "PLAX").mkdir(parents=True)
    clip = tmp_path / "data" / "A4C" / "loop.mp4"
    write_clip(clip, "A4C", n=6, size_hw=(48, 64))
    write_clip(tmp_path / "data" / "PLAX" / "loop.mp4", "PLAX", n=4, size_hw=(48, 64))
    ds = _dataset(model, tmp_path / "data", frames_per_clip=100)
    want = runtime_inputs(model, clip)
    got = [ds[i][0].numpy() for i, s in enumerate(ds.sources) if s == str(clip)]
    assert len(got) == len(want) == 6
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        assert np.array_equal(g, w), f"frame {k}: max diff {np.abs(g - w).max()}"


def test_search_eval_and_calibration_see_what_the_runtime_sees(model, tmp_path):
    from rtecho.commands.calibrate import calibration_frames
    from rtecho.nas.data import MEAN, STD, load_image_folder
    from rtecho.train.evaluate import EngineScorer, TorchScorer

    files = write_stills(tmp_path / "data")
    card = load_engine(model).card
    frames = {}
    for path in files:
        with FolderSource(path) as src:
            (frames[path],) = [f.image for f in src]
    # calibration: the same uint8 frames (the quantiser then runs the card's Preprocessor on them)
    images, labels, names = calibration_frames(tmp_path / "data")
    assert [tmp_path / "data" / n for n in names] == files
    assert all(np.array_equal(im, frames[p]) for im, p in zip(images, files, strict=True))
    assert labels == [p.parent.name for p in files]
    # search: grey inputs of its fixed normalisation
    x, y, classes = load_image_folder(tmp_path / "data", 32)
    pre = Preprocessor.for_input((32, 32), 1, MEAN, STD)
    assert classes == ("A4C", "PLAX") and y.tolist() == [0] * 4 + [1] * 4
    for xi, path in zip(x, files, strict=True):
        assert np.array_equal(xi, pre(frames[path])[0])
    # evaluation: the torch scorer's network input and the engine scorer's are the runtime's
    seen: list[torch.Tensor] = []

    class Spy(torch.nn.Module):
        def forward(self, t):
            seen.append(t.clone())
            return torch.zeros((len(t), 2))

    config = {"labels": card.labels, "input_size_hw": card.input_size_hw, "channels": card.channels}
    config |= {"mean": card.mean, "std": card.std}
    with TorchScorer(Spy(), config) as torch_scorer, EngineScorer(model) as engine_scorer:
        for path in files:
            torch_scorer.probabilities([frames[path]])
            (want,) = runtime_inputs(model, path)
            assert np.array_equal(seen[-1].numpy()[0], want), path.name
            assert np.array_equal(engine_scorer.pre(frames[path])[0], want), path.name


def test_an_augmentation_that_changes_nothing_leaves_the_exact_tensor(tmp_path):
    model = build_tiny_classifier(tmp_path / "m.onnx", size_hw=(36, 44), labels=("A4C", "PLAX"))
    write_stills(tmp_path / "data")
    plain = _dataset(model, tmp_path / "data")
    noop = _dataset(model, tmp_path / "data", augment=lambda im, rng: im)
    brighter = _dataset(model, tmp_path / "data", augment=lambda im, rng: np.minimum(im, 200) + 55)
    for i in range(len(plain)):
        assert np.array_equal(noop[i][0].numpy(), plain[i][0].numpy())
        assert not np.array_equal(brighter[i][0].numpy(), plain[i][0].numpy())


def test_equalised_training_tensor_equals_runtime_tensor(tmp_path):
    """A card with ``equalize``: the runtime equalises, and so does training, bit for bit."""
    import dataclasses

    from rtecho.types import ModelCard, card_path_for

    model = build_tiny_classifier(tmp_path / "eq.onnx", size_hw=(36, 44), labels=("A4C", "PLAX"))
    card = ModelCard.load(card_path_for(model))
    dataclasses.replace(card, equalize=True).save(card_path_for(model))
    assert load_engine(model).card.equalize
    files = write_stills(tmp_path / "data")
    ds = ImageFolderDataset(
        tmp_path / "data", size_hw=(36, 44), labels=card.labels, mean=card.mean, std=card.std, equalize=True
    )
    plain = _dataset(model, tmp_path / "data")
    noop = _dataset(model, tmp_path / "data", augment=lambda im, rng: im, equalize=True)
    for i, source in enumerate(ds.sources):
        (want,) = runtime_inputs(model, Path(source))
        assert np.array_equal(ds[i][0].numpy(), want), Path(source).name
        assert np.array_equal(noop[i][0].numpy(), want), Path(source).name
        assert not np.array_equal(plain[i][0].numpy(), want)
    assert len(ds) == len(files)
