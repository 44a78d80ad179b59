"""Contact sheet: one labelled simulated still per view, optionally with real images beside (local use only)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from rtecho._lazy import require
from rtecho.synth.config import check_size, check_view
from rtecho.views import VIEWS


def _tile(img: np.ndarray, label: str, size_hw: tuple[int, int]) -> np.ndarray:
    Image = require("PIL.Image", "synth", "contact sheets")
    ImageDraw = require("PIL.ImageDraw", "synth", "contact sheets")
    pil = Image.fromarray(img).convert("RGB").resize((size_hw[1], size_hw[0]))
    d = ImageDraw.Draw(pil)
    d.rectangle([0, 0, 7 * len(label) + 6, 13], fill=(0, 0, 0))
    d.text((3, 1), label, fill=(255, 220, 60))
    return np.asarray(pil)


def contact_sheet(
    seed: int = 0,
    size_hw: tuple[int, int] = (192, 192),
    views: Sequence[str] = VIEWS,
    real: Mapping[str, str | Path] | None = None,
    cols: int = 5,
    sim: str = "v1",
) -> np.ndarray:
    """RGB sheet with one simulated still per view; ``real`` maps a view to a real image shown beside it.

    Real images are for local comparison only: never commit a sheet made with ``real``.

    >>> contact_sheet(seed=0, size_hw=(48, 48), views=["A4C", "PLAX"]).shape
    (48, 240, 3)
    """
    from rtecho.synth.sims import still_renderer

    Image = require("PIL.Image", "synth", "contact sheets")
    render = still_renderer(sim)
    size = check_size(size_hw)
    tiles = []
    for k, v in enumerate(views):
        check_view(v)
        img = render(v, np.random.default_rng([int(seed), 3, k]), size)
        tiles.append(_tile(img, v, size))
        if real and v in real:
            tiles.append(_tile(np.asarray(Image.open(real[v]).convert("L")), f"REAL {v}", size))
    rows = (len(tiles) + cols - 1) // cols
    sheet = np.zeros((rows * size[0], cols * size[1], 3), np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, cols)
        sheet[r * size[0] : (r + 1) * size[0], c * size[1] : (c + 1) * size[1]] = t
    return sheet
