"""scan_labelled: natural order, hidden files skipped, label folders validated, optional labels for calibration."""

from __future__ import annotations

import numpy as np
import pytest

from rtecho.errors import SourceError
from rtecho.io.labelled import DatasetError, Sample, label_order, scan_labelled

Image = pytest.importorskip("PIL.Image")


def _png(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(path)
    return path


def test_natural_order_labels_and_kinds(tmp_path):
    for rel in (
        "PLAX/10.png",
        "PLAX/2.png",
        "A4C/sub/1.png",
        "A4C/b.jpg",
        "A4C/.hidden.png",
        "A4C/.cache/x.png",
    ):
        _png(tmp_path / rel)
    (tmp_path / "A4C" / "loop.mp4").write_bytes(b"")
    (tmp_path / "A4C" / "notes.txt").write_text("x")
    (tmp_path / "loose.png").write_bytes(b"")  # files directly in the root are not items
    got = scan_labelled(tmp_path)
    rel = [(str(s.path.relative_to(tmp_path)), s.label, s.kind) for s in got]
    assert rel == [
        ("A4C/b.jpg", "A4C", "image"),
        ("A4C/loop.mp4", "A4C", "clip"),
        ("A4C/sub/1.png", "A4C", "image"),
        ("PLAX/2.png", "PLAX", "image"),
        ("PLAX/10.png", "PLAX", "image"),
    ]
    assert [s.kind for s in scan_labelled(tmp_path, clips=False)] == ["image"] * 4
    assert scan_labelled(tmp_path) == got  # deterministic
    assert label_order(["PLAX", "A4C", "PLAX"]) == ("A4C", "PLAX")


def test_bad_folders_are_one_line_errors(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        scan_labelled(tmp_path / "nope")
    with pytest.raises(DatasetError, match="no label subfolders"):
        scan_labelled(tmp_path)
    (tmp_path / "A4C").mkdir()
    with pytest.raises(DatasetError, match="holds no images"):
        scan_labelled(tmp_path)
    _png(tmp_path / "A4C" / "1.png")
    (tmp_path / "a2c").mkdir()
    with pytest.raises(DatasetError, match=r"'a2c'.*did you mean 'A2C'") as err:
        scan_labelled(tmp_path)
    assert isinstance(err.value, SourceError) and "\n" not in str(err.value)
    (tmp_path / "a2c").rmdir()
    _png(tmp_path / "PSAX" / "1.png")
    with pytest.raises(DatasetError, match="coarse label"):
        scan_labelled(tmp_path)
    _png(tmp_path / "PSAX-MV" / "1.png")
    assert {s.label for s in scan_labelled(tmp_path, use_coarse=True)} == {"A4C", "PSAX"}


def test_optional_labels_for_calibration_sets(tmp_path):
    _png(tmp_path / "stills" / "a4c" / "1.png")
    _png(tmp_path / "stills" / "misc" / "2.png")
    np.save(tmp_path / "stills" / "PLAX.npy", np.zeros((2, 4, 4), np.uint8))
    got = scan_labelled(tmp_path, arrays=True, require_labels=False)
    assert got == [
        Sample(tmp_path / "stills" / "a4c" / "1.png", "A4C", "image"),
        Sample(tmp_path / "stills" / "misc" / "2.png", None, "image"),
        Sample(tmp_path / "stills" / "PLAX.npy", None, "array"),
    ]
    assert [s.label for s in scan_labelled(tmp_path / "stills" / "a4c", require_labels=False)] == ["A4C"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="holds no frames"):
        scan_labelled(tmp_path / "empty", require_labels=False)
