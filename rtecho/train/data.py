"""Datasets: an ImageFolder of stills and clips, the echo simulator on the fly, real stills named by view.

An ImageFolder ``DATA_DIR`` has one subfolder per view label of VIEWS.md (``DATA_DIR/A4C/x.png``,
``DATA_DIR/PLAX/loop.mp4``); with ``coarse=True`` the subfolders may also be coarse labels and
every label is mapped to its coarse one. It is listed by :func:`rtecho.io.labelled.scan_labelled`,
stills are read by :func:`rtecho.io.image.read_image` and clips by :func:`rtecho.io.open_source`:
the readers of the runtime.

Datasets yield ``(float32 tensor (C,H,W), int target)`` made by the runtime's
:class:`~rtecho.runtime.preprocess.Preprocessor` for the model's input (size, channels, mean/std):
an item without augmentation is, bit for bit, the tensor the runtime gives the engine for the same
file or clip frame (``tests/train/test_ingest_parity.py``). Augmentations work on uint8 images
before the Preprocessor: a simulator still as rendered, an ImageFolder item as its network-size
image (the Preprocessor's resampled image rounded to uint8, :func:`network_image`), so only an item
that an augmentation changed is rounded to uint8 on its way to the network. With ``equalize`` (the
card's flag) that network-size image is the equalised one; the augmented image is equalised again.

>>> ds = SynthDataset(2, views=("A4C", "PLAX"), size_hw=(64, 64))  # doctest: +SKIP
>>> x, y = ds[0]; x.shape, y  # doctest: +SKIP
(torch.Size([1, 64, 64]), 0)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from rtecho.io.image import IMAGE_EXTENSIONS, ImageError, list_images
from rtecho.io.image import read_image as _read_image
from rtecho.io.labelled import CLIP_EXTENSIONS, DatasetError, Sample, label_order, scan_labelled
from rtecho.runtime.preprocess import Preprocessor
from rtecho.views import COARSE, VIEWS, coarse

__all__ = [
    "ArrayDataset",
    "DatasetError",
    "ImageFolderDataset",
    "Sample",
    "SynthDataset",
    "network_image",
    "read_image",
    "real_stills",
    "resize_gray",
    "scan_folder",
]

log = logging.getLogger(__name__)

IMAGE_SUFFIXES: tuple[str, ...] = tuple(sorted(IMAGE_EXTENSIONS))
CLIP_SUFFIXES: tuple[str, ...] = tuple(sorted(CLIP_EXTENSIONS))

#: An augmentation: ``(uint8 image, rng) -> uint8 image`` of the same shape.
Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def scan_folder(root: str | Path, use_coarse: bool = False, clips: bool = True) -> list[Sample]:
    """The labelled images (and clips) of an ImageFolder, in natural order (:func:`scan_labelled`).

    >>> scan_folder("data/views")  # doctest: +SKIP
    [Sample(path=PosixPath('data/views/A4C/1.png'), label='A4C', kind='image'), ...]
    """
    return scan_labelled(root, use_coarse=use_coarse, clips=clips)


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
    for path in list_images(folder):
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
    """A still as the runtime reads it (:func:`rtecho.io.image.read_image`); DatasetError when unreadable."""
    try:
        return _read_image(path)
    except ImageError as exc:
        raise DatasetError(str(exc)) from None


def network_image(x: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """The uint8 image a network input ``x`` (C,H,W, normalised by ``mean``/``std``) stands for.

    ``rint(255 (x std + mean))`` per channel, clipped: HxW for one channel, or for three equal ones
    (a grey image replicated), else HxWx3. What augmentations start from.
    """
    m = np.asarray(mean, np.float64).reshape(-1, 1, 1)
    s = np.asarray(std, np.float64).reshape(-1, 1, 1)
    u8 = np.clip(np.rint(255.0 * (x.astype(np.float64) * s + m)), 0, 255).astype(np.uint8)
    if len(u8) == 1 or (np.array_equal(u8[0], u8[1]) and np.array_equal(u8[0], u8[2])):
        return u8[0]
    return np.ascontiguousarray(u8.transpose(1, 2, 0))


def resize_gray(image: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """A uint8 image as a grey uint8 image of ``size_hw``, through the runtime's Preprocessor, rounded.

    For statistics and scripts (intensity curves, augmentation previews); networks are fed the
    Preprocessor's float tensors, never this rounded image.
    """
    return network_image(Preprocessor.for_input(tuple(size_hw), 1)(image)[0], (0.0,), (1.0,))


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


def evenly_spaced(count: int, n: int | None) -> list[int]:
    """Indices of up to ``n`` evenly spaced items of ``count`` (all when ``n`` is None)."""
    if n is None or count <= n:
        return list(range(count))
    return [int(i) for i in np.linspace(0, count - 1, n).round().astype(int)]


def clip_inputs(path: str | Path, n: int | None, pre: Preprocessor) -> list[np.ndarray]:
    """The network inputs (C,H,W) of up to ``n`` evenly spaced frames of a clip (all when ``n`` is None)."""
    inputs = [pre(f)[0] for f in iter_clip_frames(path)]
    if not inputs:
        raise DatasetError(f"clip {path} has no frames")
    return [inputs[i] for i in evenly_spaced(len(inputs), n)]


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), *(int(k) for k in keys)])


class ArrayDataset(Dataset):
    """Network inputs with integer targets; augmentation seeded per (epoch, index).

    ``images`` are uint8 images of any size: each becomes its network input through the runtime's
    Preprocessor for (``size_hw``, default the first image's size; ``channels``; ``mean``/``std``)
    once, up front. An item is that input; with ``augment``, the augmentation runs on the item's
    network-size uint8 image (:meth:`image`) and the result goes through the Preprocessor again.
    ``framed``: per item, a second input (or None), the item as the live ultrasound path frames it
    (:func:`~rtecho.pipeline.ultrasound.still_input`); an epoch takes it instead of the plain one with
    probability ``framed_p`` (drawn per (epoch, index), apart from the augmentation's draws).
    """

    def __init__(
        self,
        images: Sequence[np.ndarray] | None,
        targets: Sequence[int],
        labels: Sequence[str],
        channels: int = 1,
        mean: Sequence[float] = (0.0,),
        std: Sequence[float] = (1.0,),
        augment: Augment | None = None,
        seed: int = 0,
        sources: Sequence[str] | None = None,
        *,
        size_hw: tuple[int, int] | None = None,
        inputs: Sequence[np.ndarray] | None = None,
        equalize: bool = False,
        framed: Sequence[np.ndarray | None] | None = None,
        framed_p: float = 0.0,
    ) -> None:
        if (images is None) == (inputs is None):
            raise ValueError("give either images or inputs")
        if size_hw is None:
            first = images[0] if images is not None else None
            size_hw = first.shape[:2] if first is not None else tuple(inputs[0].shape[1:])  # type: ignore[index]
        self.size_hw = (int(size_hw[0]), int(size_hw[1]))
        self.channels, self.mean, self.std = int(channels), tuple(mean), tuple(std)
        self.equalize = bool(equalize)
        self.pre = Preprocessor.for_input(self.size_hw, self.channels, self.mean, self.std, self.equalize)
        self.inputs = list(inputs) if inputs is not None else [self.pre(im)[0] for im in images]  # type: ignore[union-attr]
        if len(self.inputs) != len(targets):
            raise ValueError(f"{len(self.inputs)} images but {len(targets)} targets")
        self.targets = [int(t) for t in targets]
        self.labels = tuple(labels)
        self.augment, self.seed, self.epoch = augment, seed, 0
        self.sources = list(sources) if sources is not None else [""] * len(self.inputs)
        if not 0.0 <= framed_p <= 1.0:
            raise ValueError(f"framed_p must be in [0, 1], got {framed_p}")
        if framed is not None and len(framed) != len(self.inputs):
            raise ValueError(f"{len(framed)} framed inputs for {len(self.inputs)} items")
        self.framed = list(framed) if framed is not None else None
        self.framed_p = float(framed_p)

    def set_epoch(self, epoch: int) -> None:
        """Vary the augmentation from epoch to epoch (deterministically)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.inputs)

    def _pick(self, index: int) -> np.ndarray:
        """Item ``index``'s input for the current epoch: the framed one (with ``framed_p``) or the plain one."""
        alt = self.framed[index] if self.framed is not None else None
        if (
            alt is not None
            and self.framed_p > 0
            and _rng(self.seed, 4, self.epoch, index).random() < self.framed_p
        ):
            return alt
        return self.inputs[index]

    def _base(self, index: int) -> np.ndarray:
        return network_image(self._pick(index), self.mean, self.std)

    def image(self, index: int) -> np.ndarray:
        """The network-size uint8 image of item ``index``, augmented for the current epoch when set."""
        img = self._base(index)
        if self.augment is not None:
            img = self.augment(img, _rng(self.seed, 1, self.epoch, index))
        return img

    def input(self, index: int) -> np.ndarray:
        """The float32 (C,H,W) network input of item ``index`` for the current epoch."""
        chosen = self._pick(index)
        if self.augment is None:
            return chosen
        base = network_image(chosen, self.mean, self.std)
        out = self.augment(base, _rng(self.seed, 1, self.epoch, index))
        return chosen if out is base else self.pre(out)[0]  # untouched: the exact input

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return torch.from_numpy(self.input(index)), self.targets[index]

    def subset(
        self, indices: Sequence[int], augment: Augment | None = None, framed: bool = True
    ) -> ArrayDataset:
        """The items at ``indices`` (sharing the inputs), with another augmentation (``framed=False``:
        plain inputs only)."""
        return ArrayDataset(
            None,
            [self.targets[i] for i in indices],
            self.labels,
            self.channels,
            self.mean,
            self.std,
            augment,
            self.seed,
            [self.sources[i] for i in indices],
            size_hw=self.size_hw,
            inputs=[self.inputs[i] for i in indices],
            equalize=self.equalize,
            framed=[self.framed[i] for i in indices] if self.framed is not None else None,
            framed_p=self.framed_p if framed else 0.0,
        )


class ImageFolderDataset(ArrayDataset):
    """An ImageFolder of stills and clips, held in memory as network inputs of ``size_hw``.

    ``labels`` fixes the class order (a model's labels); by default the folder's labels in VIEWS order.
    Each clip contributes ``frames_per_clip`` evenly spaced frames. ``sector_crop`` > 0: each still
    also gets its input as the live ultrasound path frames it (its sector found on it, cropped to the
    sector's box and blanked outside: :func:`~rtecho.pipeline.ultrasound.still_input`), taken instead
    of the plain one with that probability each epoch (clip frames keep the plain input only).

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
        equalize: bool = False,
        sector_crop: float = 0.0,
    ) -> None:
        samples = scan_folder(root, use_coarse=use_coarse)
        present = {str(s.label) for s in samples}
        labels = tuple(labels) if labels is not None else label_order(present, use_coarse)
        if use_coarse:
            labels = tuple(dict.fromkeys(coarse(v) for v in labels))
        missing = sorted(present - set(labels))
        if missing:
            raise DatasetError(
                f"data folder {root} has label(s) {missing} that are not among the labels {list(labels)}"
            )
        pre = Preprocessor.for_input(tuple(size_hw), channels, tuple(mean), tuple(std), equalize)
        index = {v: i for i, v in enumerate(labels)}
        inputs: list[np.ndarray] = []
        targets: list[int] = []
        sources: list[str] = []
        framed: list[np.ndarray | None] | None = [] if sector_crop > 0 else None
        if framed is not None:
            from rtecho.pipeline.ultrasound import still_input
        for s in samples:
            if s.kind == "image":
                image = read_image(s.path)
                frames = [pre(image)[0]]
                if framed is not None:
                    framed.append(still_input(pre, image)[0])
            else:
                frames = clip_inputs(s.path, frames_per_clip, pre)
                if framed is not None:
                    framed.extend([None] * len(frames))
            inputs.extend(frames)
            targets.extend([index[str(s.label)]] * len(frames))
            sources.extend([str(s.path)] * len(frames))
        super().__init__(
            None, targets, labels, channels, mean, std, augment, seed, sources,
            size_hw=size_hw, inputs=inputs, equalize=equalize, framed=framed, framed_p=sector_crop,
        )  # fmt: skip
        self.root = Path(root)

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
        return self.subset(train_idx, self.augment), self.subset(val_idx, None, framed=False)


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
        equalize: bool = False,
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
        self.pre = Preprocessor.for_input(self.size_hw, channels, self.mean, self.std, equalize)
        self.augment, self.fresh_per_epoch = augment, fresh_per_epoch
        self._cache: dict[int, np.ndarray] | None = {} if cache and not fresh_per_epoch else None
        self.targets = [i % len(self.labels) for i in range(len(self))]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.n_per_view * len(self.labels)

    def image(self, index: int) -> np.ndarray:
        """The grey uint8 image of item ``index`` as rendered (augmented when an augmentation is set)."""
        if not 0 <= index < len(self):
            raise IndexError(index)
        img = self._cache.get(index) if self._cache is not None else None
        if img is None:
            keys = (self.stream, index, self.epoch) if self.fresh_per_epoch else (self.stream, index)
            view = self.labels[index % len(self.labels)]
            img = np.asarray(self._render(view, _rng(self.seed, *keys), self.size_hw))
            if self._cache is not None:
                self._cache[index] = img
        if self.augment is not None:
            img = self.augment(img, _rng(self.seed, 3, self.stream, self.epoch, index))
        return img

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return torch.from_numpy(self.pre(self.image(index))[0]), self.targets[index]
