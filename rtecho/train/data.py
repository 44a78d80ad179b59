"""Datasets: an ImageFolder of stills and clips, the echo simulator on the fly, real stills named by view.

An ImageFolder ``DATA_DIR`` has one subfolder per view label of VIEWS.md (``DATA_DIR/A4C/x.png``,
``DATA_DIR/PLAX/loop.mp4``); with ``coarse=True`` the subfolders may also be coarse labels and
every label is mapped to its coarse one. Datasets yield ``(float32 tensor (C,H,W), int target)``
preprocessed as the runtime does from a model card: resize to ``size_hw``, grey (replicated to 3
channels when asked), scale to 0..1, ``(x - mean) / std``.

>>> ds = SynthDataset(2, views=("A4C", "PLAX"), size_hw=(64, 64))  # doctest: +SKIP
>>> x, y = ds[0]; x.shape, y  # doctest: +SKIP
(torch.Size([1, 64, 64]), 0)
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from rtecho._lazy import require
from rtecho.errors import RtechoError
from rtecho.views import COARSE, COARSE_VIEWS, VIEWS, coarse

log = logging.getLogger(__name__)

IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
CLIP_SUFFIXES: tuple[str, ...] = (".mp4", ".avi", ".mov", ".mkv", ".gif", ".dcm")

#: An augmentation: ``(uint8 image, rng) -> uint8 image`` of the same shape.
Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]


class DatasetError(RtechoError, ValueError):
    """A data folder is missing, empty or mislabelled, or an item cannot be read."""


@dataclass(frozen=True)
class Sample:
    """One labelled item of a data folder: ``kind`` is ``"image"`` or ``"clip"``."""

    path: Path
    label: str
    kind: str


def _folder_label(name: str, root: Path, use_coarse: bool) -> str:
    if name in VIEWS:
        return coarse(name) if use_coarse else name
    if name in COARSE_VIEWS:
        if use_coarse:
            return name
        raise DatasetError(
            f"folder {name!r} in {root} is a coarse label; evaluate with --coarse or use fine labels"
        )
    hint = difflib.get_close_matches(name.upper(), list(VIEWS) + list(COARSE_VIEWS), n=1)
    did = f" (did you mean {hint[0]!r}?)" if hint else ""
    raise DatasetError(
        f"folder {name!r} in {root} is not a view label{did}; subfolders must be VIEWS.md labels: {', '.join(VIEWS)}"
    )


def scan_folder(root: str | Path, use_coarse: bool = False, clips: bool = True) -> list[Sample]:
    """List the labelled images (and clips) of an ImageFolder, sorted; raise DatasetError if unusable.

    >>> scan_folder("data/views")  # doctest: +SKIP
    [Sample(path=PosixPath('data/views/A4C/1.png'), label='A4C', kind='image'), ...]
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"data folder not found: {root}")
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not subdirs:
        raise DatasetError(f"data folder {root} has no label subfolders (expected e.g. {root}/A4C/*.png)")
    suffixes = IMAGE_SUFFIXES + (CLIP_SUFFIXES if clips else ())
    samples: list[Sample] = []
    for sub in subdirs:
        label = _folder_label(sub.name, root, use_coarse)
        found = 0
        for path in sorted(sub.rglob("*")):
            suffix = path.suffix.lower()
            if path.is_file() and not path.name.startswith(".") and suffix in suffixes:
                kind = "image" if suffix in IMAGE_SUFFIXES else "clip"
                samples.append(Sample(path, label, kind))
                found += 1
        if not found:
            log.warning("label folder %s holds no images or clips", sub)
    if not samples:
        what = "images or clips" if clips else "images"
        raise DatasetError(f"data folder {root} holds no {what} ({', '.join(suffixes)})")
    return samples


def real_stills(folder: str | Path) -> list[tuple[Path, str]]:
    """Images named after their view (``a4c.png``, ``psax-ap.png``, ``test1_plax.jpg``) -> (path, label).

    The label is the file stem, or the part after its last ``_``, matched to VIEWS case-insensitively.
    Files that name no view are skipped with a warning.

    >>> real_stills("../shared/data/real/raventan95-echo-view-classifier")  # doctest: +SKIP
    [(PosixPath('.../a2c.png'), 'A2C'), ...]
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"folder not found: {folder}")
    by_lower = {v.lower(): v for v in VIEWS}
    out: list[tuple[Path, str]] = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        stem = path.stem.lower()
        label = by_lower.get(stem) or by_lower.get(stem.rsplit("_", 1)[-1])
        if label is None:
            log.warning("skipping %s: its name names no view label", path.name)
            continue
        out.append((path, label))
    if not out:
        raise DatasetError(f"no image in {folder} is named after a view label (e.g. a4c.png, test1_plax.jpg)")
    return out


def read_image(path: str | Path) -> np.ndarray:
    """Read a still as uint8 HxW grey or HxWx3 RGB (16-bit images are scaled to 8 bits)."""
    image_mod = require("PIL.Image", "train", "reading images")
    try:
        with image_mod.open(path) as im:
            if im.mode in ("I;16", "I;16B", "I", "F"):
                arr = np.asarray(im, dtype=np.float64)
                hi = float(arr.max()) or 1.0
                return np.clip(arr * (255.0 / hi), 0, 255).astype(np.uint8)
            if im.mode == "L":
                return np.asarray(im, dtype=np.uint8).copy()
            return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    except FileNotFoundError:
        raise DatasetError(f"image not found: {path}") from None
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot read image {path}: {exc}") from None


def to_gray(image: np.ndarray) -> np.ndarray:
    """uint8 HxW grey from HxW grey or HxWx3 RGB (ITU-R 601 luma, as PIL's ``convert('L')``)."""
    if image.ndim == 2:
        return image
    rgb = image[..., :3].astype(np.float32)
    gray = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    return np.clip(gray + 0.5, 0, 255).astype(np.uint8)


def resize_gray(image: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """Grey uint8 image resized to ``size_hw`` with the runtime's resampler (antialiased bilinear).

    Training and the runtime's :class:`~rtecho.runtime.preprocess.Preprocessor` then see the same
    pixels (up to rounding to uint8).
    """
    gray = to_gray(image)
    if gray.shape == tuple(size_hw):
        return gray
    try:
        from rtecho.runtime.preprocess import resize
    except ImportError:  # runtime mid-change: PIL's BILINEAR is the same antialiased triangle filter
        image_mod = require("PIL.Image", "train", "resizing images")
        h, w = size_hw
        return np.asarray(image_mod.fromarray(gray).resize((w, h), image_mod.BILINEAR), dtype=np.uint8)
    return np.clip(np.rint(resize(gray.astype(np.float32), tuple(size_hw))), 0, 255).astype(np.uint8)


def to_input(
    gray: np.ndarray, channels: int = 1, mean: Sequence[float] = (0.0,), std: Sequence[float] = (1.0,)
) -> np.ndarray:
    """float32 (C,H,W) network input from a grey uint8 image: 0..1, then ``(x - mean) / std`` per channel."""
    x = gray.astype(np.float32) / 255.0
    x = np.repeat(x[None], channels, axis=0)
    m = np.asarray(mean, np.float32).reshape(-1, 1, 1)
    s = np.asarray(std, np.float32).reshape(-1, 1, 1)
    return (x - m) / s


def iter_clip_frames(path: str | Path) -> Iterator[np.ndarray]:
    """Yield the frames of a clip (mp4/avi/gif/dcm) as uint8 images, through :func:`rtecho.io.open_source`."""
    try:
        from rtecho.io import open_source
    except ImportError as exc:
        raise DatasetError(f"reading clip {path} needs rtecho.io, which failed to import ({exc})") from exc
    src = open_source(str(path))
    try:
        for frame in src:
            yield frame.image
    finally:
        close = getattr(src, "close", None)
        if close is not None:
            close()


def sample_clip_frames(path: str | Path, n: int | None, size_hw: tuple[int, int]) -> list[np.ndarray]:
    """Up to ``n`` evenly spaced frames of a clip (all when ``n`` is None), grey and resized to ``size_hw``."""
    frames = [resize_gray(f, size_hw) for f in iter_clip_frames(path)]
    if not frames:
        raise DatasetError(f"clip {path} has no frames")
    if n is not None and len(frames) > n:
        idx = np.linspace(0, len(frames) - 1, n).round().astype(int)
        frames = [frames[i] for i in idx]
    return frames


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), *(int(k) for k in keys)])


class ArrayDataset(Dataset):
    """Grey uint8 images (already at ``size_hw``) with integer targets; augmentation seeded per (epoch, index)."""

    def __init__(
        self,
        images: Sequence[np.ndarray],
        targets: Sequence[int],
        labels: Sequence[str],
        channels: int = 1,
        mean: Sequence[float] = (0.0,),
        std: Sequence[float] = (1.0,),
        augment: Augment | None = None,
        seed: int = 0,
        sources: Sequence[str] | None = None,
    ) -> None:
        if len(images) != len(targets):
            raise ValueError(f"{len(images)} images but {len(targets)} targets")
        self.images = list(images)
        self.targets = [int(t) for t in targets]
        self.labels = tuple(labels)
        self.channels, self.mean, self.std = channels, tuple(mean), tuple(std)
        self.augment, self.seed, self.epoch = augment, seed, 0
        self.sources = list(sources) if sources is not None else [""] * len(self.images)

    def set_epoch(self, epoch: int) -> None:
        """Vary the augmentation from epoch to epoch (deterministically)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.images)

    def image(self, index: int) -> np.ndarray:
        """The (augmented) grey uint8 image of item ``index`` for the current epoch."""
        img = self.images[index]
        if self.augment is not None:
            img = self.augment(img, _rng(self.seed, 1, self.epoch, index))
        return img

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        x = to_input(self.image(index), self.channels, self.mean, self.std)
        return torch.from_numpy(x), self.targets[index]

    def subset(self, indices: Sequence[int], augment: Augment | None = None) -> ArrayDataset:
        """The items at ``indices`` (sharing the images), with another augmentation."""
        return ArrayDataset(
            [self.images[i] for i in indices],
            [self.targets[i] for i in indices],
            self.labels,
            self.channels,
            self.mean,
            self.std,
            augment,
            self.seed,
            [self.sources[i] for i in indices],
        )


class ImageFolderDataset(ArrayDataset):
    """An ImageFolder of stills and clips, loaded into memory at ``size_hw``.

    ``labels`` fixes the class order (a model's labels); by default the folder's labels in VIEWS order.
    Each clip contributes ``frames_per_clip`` evenly spaced frames.

    >>> ds = ImageFolderDataset("data/views", size_hw=(128, 128))  # doctest: +SKIP
    >>> train, val = ds.split(0.2, seed=0)  # doctest: +SKIP
    """

    def __init__(
        self,
        root: str | Path,
        size_hw: tuple[int, int] = (128, 128),
        labels: Sequence[str] | None = None,
        use_coarse: bool = False,
        channels: int = 1,
        mean: Sequence[float] = (0.0,),
        std: Sequence[float] = (1.0,),
        augment: Augment | None = None,
        frames_per_clip: int = 8,
        seed: int = 0,
    ) -> None:
        samples = scan_folder(root, use_coarse=use_coarse)
        present = {s.label for s in samples}
        if labels is None:
            order = list(COARSE_VIEWS) if use_coarse else list(VIEWS)
            labels = [v for v in order if v in present]
        labels = tuple(labels)
        if use_coarse:
            labels = tuple(dict.fromkeys(coarse(v) for v in labels))
        missing = sorted(present - set(labels))
        if missing:
            raise DatasetError(
                f"data folder {root} has label(s) {missing} that are not among the labels {list(labels)}"
            )
        index = {v: i for i, v in enumerate(labels)}
        images: list[np.ndarray] = []
        targets: list[int] = []
        sources: list[str] = []
        for s in samples:
            if s.kind == "image":
                frames = [resize_gray(read_image(s.path), size_hw)]
            else:
                frames = sample_clip_frames(s.path, frames_per_clip, size_hw)
            images.extend(frames)
            targets.extend([index[s.label]] * len(frames))
            sources.extend([str(s.path)] * len(frames))
        super().__init__(images, targets, labels, channels, mean, std, augment, seed, sources)
        self.root, self.size_hw = Path(root), tuple(size_hw)

    def split(self, val_fraction: float, seed: int = 0) -> tuple[ArrayDataset, ArrayDataset]:
        """Stratified train/validation split by source file (frames of one clip stay together)."""
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
        rng = _rng(seed, 2)
        train_idx: list[int] = []
        val_idx: list[int] = []
        for t in sorted(set(self.targets)):
            srcs = sorted({s for s, y in zip(self.sources, self.targets, strict=True) if y == t})
            rng.shuffle(srcs)
            n_val = int(round(len(srcs) * val_fraction)) if len(srcs) > 1 else 0
            val_srcs = set(srcs[: max(n_val, 1 if len(srcs) > 1 else 0)])
            for i, (s, y) in enumerate(zip(self.sources, self.targets, strict=True)):
                if y == t:
                    (val_idx if s in val_srcs else train_idx).append(i)
        if not val_idx:
            raise DatasetError(f"data folder {self.root} is too small to hold out a validation split")
        return self.subset(train_idx, self.augment), self.subset(val_idx, None)


class SynthDataset(Dataset):
    """The echo simulator on the fly: item ``i`` is view ``views[i % len(views)]`` rendered with rng (seed, split, i).

    ``split`` ("train", "val", "test") selects an independent random stream, so validation and test
    sets never repeat training images. With ``fresh_per_epoch`` the rendering also depends on the
    epoch (endless data); otherwise rendered images are cached. ``sim`` picks the simulator: ``v1``
    (2-D view layouts) or ``v2`` (3-D heart sliced by probe poses).

    >>> ds = SynthDataset(10, views=("A4C", "PLAX"), size_hw=(64, 64), split="val")  # doctest: +SKIP
    """

    _SPLITS = {"train": 0, "val": 1, "test": 2}

    def __init__(
        self,
        n_per_view: int,
        views: Sequence[str] = VIEWS,
        size_hw: tuple[int, int] = (128, 128),
        seed: int = 0,
        split: str = "train",
        channels: int = 1,
        mean: Sequence[float] = (0.0,),
        std: Sequence[float] = (1.0,),
        augment: Augment | None = None,
        fresh_per_epoch: bool = False,
        cache: bool = True,
        sim: str = "v1",
    ) -> None:
        if n_per_view < 1:
            raise DatasetError(f"n_per_view must be >= 1, got {n_per_view}")
        unknown = [v for v in views if v not in COARSE]
        if unknown or not views:
            raise DatasetError(f"unknown or no view label(s) {unknown}; known: {', '.join(VIEWS)}")
        if split not in self._SPLITS:
            raise ValueError(f"split must be one of {sorted(self._SPLITS)}, got {split!r}")
        try:
            from rtecho.synth.sims import still_renderer
        except ImportError as exc:
            raise DatasetError(f"the simulator rtecho.synth could not be imported ({exc})") from exc
        try:
            self._render = still_renderer(sim)
        except ValueError as exc:
            raise DatasetError(str(exc)) from None
        self.labels = tuple(views)
        self.n_per_view, self.size_hw = int(n_per_view), tuple(size_hw)
        self.seed, self.stream, self.epoch = int(seed), self._SPLITS[split], 0
        self.channels, self.mean, self.std = channels, tuple(mean), tuple(std)
        self.augment, self.fresh_per_epoch = augment, fresh_per_epoch
        self._cache: dict[int, np.ndarray] | None = {} if cache and not fresh_per_epoch else None
        self.targets = [i % len(self.labels) for i in range(len(self))]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.n_per_view * len(self.labels)

    def image(self, index: int) -> np.ndarray:
        """The grey uint8 image of item ``index`` (augmented when an augmentation is set)."""
        if not 0 <= index < len(self):
            raise IndexError(index)
        img = self._cache.get(index) if self._cache is not None else None
        if img is None:
            keys = (self.stream, index, self.epoch) if self.fresh_per_epoch else (self.stream, index)
            view = self.labels[index % len(self.labels)]
            img = resize_gray(
                np.asarray(self._render(view, _rng(self.seed, *keys), self.size_hw)), self.size_hw
            )
            if self._cache is not None:
                self._cache[index] = img
        if self.augment is not None:
            img = self.augment(img, _rng(self.seed, 3, self.stream, self.epoch, index))
        return img

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        x = to_input(self.image(index), self.channels, self.mean, self.std)
        return torch.from_numpy(x), self.targets[index]
