"""Helpers for the rtecho.train tests: tiny models with a registry-like config, generated images and clips."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

LABELS = ("A4C", "PLAX")


@dataclass(frozen=True)
class TinyConfig:
    name: str
    architecture: str
    input_size_hw: tuple[int, int]
    labels: tuple[str, ...]
    channels: int = 1
    mean: tuple[float, ...] = (0.5,)
    std: tuple[float, ...] = (0.25,)

    @property
    def num_classes(self) -> int:
        return len(self.labels)


class TinyNet(nn.Module):
    """conv -> global pool -> linear; optional auxiliary head returned in train mode."""

    def __init__(
        self, labels=LABELS, size_hw=(32, 32), width: int = 8, aux: bool = False, arch: str = "tiny"
    ):
        super().__init__()
        self.config = TinyConfig(arch, arch, tuple(size_hw), tuple(labels))
        self.features = nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU())
        self.head = nn.Linear(width * 4, len(labels))
        self.aux_head = nn.Linear(width * 4, len(labels)) if aux else None

    def forward(self, x):
        f = torch.flatten(nn.functional.adaptive_avg_pool2d(self.features(x), 2), 1)
        if self.training and self.aux_head is not None:
            return self.head(f), self.aux_head(f)
        return self.head(f)


class OtherNet(TinyNet):
    def __init__(self, labels=LABELS, size_hw=(32, 32)):
        super().__init__(labels, size_hw, width=4, arch="other")


def make_image(label: str, rng: np.random.Generator, size_hw=(40, 48)) -> np.ndarray:
    """A4C: bright left half; PLAX: bright right half (plus noise)."""
    h, w = size_hw
    img = rng.integers(0, 60, size=(h, w)).astype(np.uint8)
    if label == "A4C":
        img[:, : w // 2] += 150
    else:
        img[:, w // 2 :] += 150
    return img


def write_clip(path, label: str, n: int = 10, size_hw=(48, 64)) -> None:
    """A short mpeg4 clip made with PyAV whose frames look like ``label``."""
    import av

    rng = np.random.default_rng(1)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.height, stream.width = size_hw
        stream.pix_fmt = "yuv420p"
        for _ in range(n):
            gray = make_image(label, rng, size_hw)
            frame = av.VideoFrame.from_ndarray(np.repeat(gray[..., None], 3, axis=2), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def make_folder(root, n_per_label: int = 6):
    """An ImageFolder with ``n_per_label`` generated PNGs per label of :data:`LABELS`."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for label in LABELS:
        (root / label).mkdir(parents=True)
        for i in range(n_per_label):
            Image.fromarray(make_image(label, rng)).save(root / label / f"{i}.png")
    return root
