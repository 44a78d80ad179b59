"""FolderSource: natural order, colour kept, fps timestamps, unreadable files named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rtecho.errors import SourceError
from rtecho.io import FolderSource
from rtecho.io.folder import natural_key
from tests.fixtures import make_png_folder, pattern_frame


def test_natural_order_and_content(media: dict[str, Path]) -> None:
    with FolderSource(media["pngs"], fps=20.0) as src:
        assert (src.info.n_frames, src.info.size_hw, src.info.fps) == (12, (48, 64), 20.0)
        assert [p.name for p in src.files][:3] == ["frame_1.png", "frame_2.png", "frame_3.png"]
        assert src.files[-1].name == "frame_12.png"
        frames = list(src)
    for i, f in enumerate(frames):
        assert f.index == i
        assert f.timestamp == pytest.approx(i / 20.0)
        assert np.array_equal(f.image, pattern_frame(i, (48, 64)))  # PNG is lossless, RGB order kept


def test_default_fps_and_gray(tmp_path: Path) -> None:
    folder = make_png_folder(tmp_path / "g", n=3, size_hw=(16, 24), gray=True)
    with FolderSource(folder) as src:
        assert src.info.fps == 30.0
        frames = list(src)
    assert frames[0].image.shape == (16, 24)


def test_single_image_file(media: dict[str, Path]) -> None:
    with FolderSource(media["pngs"] / "frame_2.png") as src:
        (frame,) = list(src)
    assert np.array_equal(frame.image, pattern_frame(1, (48, 64)))


def test_unreadable_image_is_named(tmp_path: Path) -> None:
    folder = make_png_folder(tmp_path / "bad", n=3, size_hw=(16, 24))
    (folder / "frame_2.png").write_bytes(b"\x89PNG broken")
    src = FolderSource(folder)
    with pytest.raises(SourceError, match=r"frame_2\.png"):
        list(src)


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not found"):
        FolderSource(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x")
    with pytest.raises(SourceError, match="no images"):
        FolderSource(tmp_path / "empty")


def test_natural_key() -> None:
    names = ["f10.png", "f2.png", "F1.png", "f1b.png"]
    assert sorted(names, key=natural_key) == ["F1.png", "f1b.png", "f2.png", "f10.png"]
