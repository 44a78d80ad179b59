"""CaptureSource: device parsing, a missing device fails fast, an unplugged device raises."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from rtecho.errors import SourceError
from rtecho.io import CaptureSource
from rtecho.io.capture import parse_device

cv2 = pytest.importorskip("cv2")


def test_parse_device() -> None:
    assert parse_device(2) == (2, "cam:2")
    assert parse_device("cam:1") == (1, "cam:1")
    assert parse_device("3") == (3, "cam:3")
    assert parse_device("/dev/video5") == ("/dev/video5", "/dev/video5")
    for bad in ("camera", -1, True):
        with pytest.raises(SourceError):
            parse_device(bad)


@pytest.mark.parametrize("device", ["/dev/video97", 97, "cam:97"])
def test_nonexistent_device_fails_fast(device: Any) -> None:
    with pytest.raises(SourceError, match="97"):
        CaptureSource(device)


class _FakeCapture:
    """Stands in for cv2.VideoCapture: delivers ``n`` BGR frames, then read() fails (unplugged)."""

    def __init__(self, n: int, opened: bool = True) -> None:
        self.n, self.opened, self.released = n, opened, False

    def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
        return self.opened

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self.n == 0:
            return False, None
        self.n -= 1
        bgr = np.zeros((6, 8, 3), np.uint8)
        bgr[..., 0] = 255  # blue in BGR
        return True, bgr

    def get(self, prop: int) -> float:
        return {cv2.CAP_PROP_FRAME_HEIGHT: 6.0, cv2.CAP_PROP_FRAME_WIDTH: 8.0, cv2.CAP_PROP_FPS: 30.0}.get(
            prop, 0.0
        )

    def set(self, prop: int, value: float) -> bool:
        return True

    def getBackendName(self) -> str:  # noqa: N802
        return "FAKE"

    def release(self) -> None:
        self.released = True


def _install(monkeypatch: pytest.MonkeyPatch, fake: _FakeCapture) -> None:
    monkeypatch.setattr(cv2, "VideoCapture", lambda *a, **k: fake)
    monkeypatch.setattr("rtecho.io.capture.os.path.exists", lambda p: True)


def test_frames_rgb_live_then_unplugged(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _FakeCapture(3)
    _install(monkeypatch, fake)
    src = CaptureSource("cam:4")
    assert (src.info.live, src.info.fps, src.info.size_hw, src.info.uri) == (True, 30.0, (6, 8), "cam:4")
    got = []
    with pytest.raises(SourceError, match="cam:4 stopped delivering frames after 3 frames"):
        for f in src:
            got.append(f)
    assert [f.index for f in got] == [0, 1, 2]
    assert tuple(got[0].image[0, 0]) == (0, 0, 255)  # BGR blue became RGB blue
    assert got[0].timestamp == 0.0 and got[2].timestamp >= got[1].timestamp
    assert not fake.released
    src.close()
    src.close()
    assert fake.released


def test_device_that_will_not_open(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _FakeCapture(0, opened=False)
    _install(monkeypatch, fake)
    with pytest.raises(SourceError, match="cannot open capture device /dev/video9"):
        CaptureSource("/dev/video9")
    assert fake.released
