"""open_source dispatch, and `import rtecho.io` loading none of av, cv2, pydicom, torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rtecho.errors import SourceError
from rtecho.io import (
    CaptureSource,
    DicomSource,
    FolderSource,
    SyntheticSource,
    VideoSource,
    is_dicom,
    open_source,
)
from rtecho.io.open import parse_synthetic


@pytest.mark.parametrize(
    ("key", "cls"),
    [
        ("mp4", VideoSource),
        ("avi", VideoSource),
        ("gif", VideoSource),
        ("pngs", FolderSource),
        ("dcm_mono", DicomSource),
    ],
)
def test_dispatch_by_type(media: dict[str, Path], key: str, cls: type) -> None:
    with open_source(media[key]) as src:
        assert type(src) is cls
        assert next(iter(src)).index == 0


def test_dicom_by_magic_without_extension(media: dict[str, Path], tmp_path: Path) -> None:
    plain = tmp_path / "IM0001"
    plain.write_bytes(media["dcm_mono"].read_bytes())
    assert is_dicom(plain) and not is_dicom(media["mp4"])
    with open_source(str(plain)) as src:
        assert isinstance(src, DicomSource)


def test_kwargs_are_passed_on(media: dict[str, Path]) -> None:
    with open_source(media["pngs"], fps=12.5) as src:
        assert src.info.fps == 12.5


def test_synthetic_uri() -> None:
    with open_source("synthetic:n=3,size=16x24,fps=10,live=1,seed=2") as src:
        assert isinstance(src, SyntheticSource)
        assert (src.info.n_frames, src.info.size_hw, src.info.fps, src.info.live) == (3, (16, 24), 10.0, True)
    with open_source("synthetic:", n_frames=2) as src:
        assert len(list(src)) == 2
    assert parse_synthetic("synthetic:n=inf,pace=0") == {"n_frames": None, "pace": False}
    for bad in (
        "synthetic:n=x",
        "synthetic:size=12",
        "synthetic:colour=1",
        "synthetic:live=maybe",
        "synthetic:n",
    ):
        with pytest.raises(SourceError, match="synthetic"):
            open_source(bad)


@pytest.mark.parametrize("device", [97, "cam:97", "/dev/video97", "video=USB Grabber"])
def test_devices_go_to_capture(device: object, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[object] = []

    def fake_init(self: CaptureSource, dev: object, **kw: object) -> None:
        made.append(dev)

    monkeypatch.setattr(CaptureSource, "__init__", fake_init)
    assert isinstance(open_source(device), CaptureSource)  # type: ignore[arg-type]
    assert made == [device]


def test_missing_device_is_a_source_error() -> None:
    with pytest.raises(SourceError, match="97"):
        open_source("cam:97")


def test_unknown_and_missing(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        open_source(tmp_path / "missing.mp4")
    odd = tmp_path / "data.xyz"
    odd.write_text("x")
    with pytest.raises(SourceError, match=r"unsupported input .*data\.xyz"):
        open_source(odd)
    with pytest.raises(SourceError):
        open_source(True)  # type: ignore[arg-type]


def test_import_loads_no_heavy_library() -> None:
    code = (
        "import sys, rtecho.io, rtecho.io.video, rtecho.io.dicom, rtecho.io.capture, rtecho.io.folder\n"
        "heavy = [m for m in ('av', 'cv2', 'pydicom', 'torch', 'onnxruntime', 'openvino') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == ""


def test_array_source_gives_the_frames_a_host_holds():
    from rtecho.errors import FrameError, SourceError
    from rtecho.io import ArraySource

    frames = np.stack([np.full((6, 8), i, np.uint8) for i in range(4)])
    src = ArraySource(frames, fps=20.0)
    got = list(src)
    assert [int(f.image[0, 0]) for f in got] == [0, 1, 2, 3] and got[-1].timestamp == pytest.approx(0.15)
    assert src.info.size_hw == (6, 8) and src.info.n_frames == 4 and not src.info.live
    with pytest.raises(SourceError, match="no frames"):
        ArraySource([])
    with pytest.raises(FrameError):
        list(ArraySource([np.zeros((4, 4), np.float32)]))
