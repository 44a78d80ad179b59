"""CaptureSource through PyAV: device names per platform, a missing device fails fast, and real FFmpeg
inputs standing in for a device (no V4L2 device in a container): ``lavfi`` for a live generator, a
FIFO of raw RGB frames for a device that disappears (its writer goes away mid-stream)."""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rtecho.errors import SourceError
from rtecho.io import CaptureSource
from rtecho.io.capture import parse_device, platform_format

av = pytest.importorskip("av")

RAW = {"video_size": "8x6", "pixel_format": "rgb24", "framerate": "30"}


def test_parse_device_per_platform() -> None:
    assert parse_device(2, "linux") == ("/dev/video2", "cam:2", "v4l2")
    assert parse_device("cam:1", "linux") == ("/dev/video1", "cam:1", "v4l2")
    assert parse_device(" 3 ", "linux") == ("/dev/video3", "cam:3", "v4l2")
    assert parse_device("/dev/video5", "linux") == ("/dev/video5", "/dev/video5", "v4l2")
    assert parse_device("cam:0", "darwin") == ("0:none", "cam:0", "avfoundation")
    assert parse_device("video=USB Grabber", "win32") == ("video=USB Grabber", "video=USB Grabber", "dshow")
    assert platform_format("linux") == "v4l2" and platform_format("sunos5") is None
    for bad, platform in [("camera", "linux"), (-1, "linux"), (True, "linux"), ("/dev/video0", "darwin")]:
        with pytest.raises(SourceError, match="capture device"):
            parse_device(bad, platform)
    with pytest.raises(SourceError, match="video=NAME"):
        parse_device(0, "win32")
    with pytest.raises(SourceError, match="sunos5"):
        parse_device(0, "sunos5")


@pytest.mark.skipif(platform_format() != "v4l2", reason="V4L2 device nodes are Linux's")
@pytest.mark.parametrize("device", ["/dev/video97", 97, "cam:97"])
def test_nonexistent_device_fails_fast(device: Any) -> None:
    with pytest.raises(SourceError, match=r"capture device .*97 does not exist"):
        CaptureSource(device)


def test_missing_device_is_refused_by_ffmpeg_too(tmp_path: Path) -> None:
    # the platform's own input on a node that is not there: FFmpeg's ENOENT, not a traceback
    with pytest.raises(SourceError, match="does not exist"):
        CaptureSource(str(tmp_path / "video0"), format="rawvideo", options=RAW)


def test_an_input_this_ffmpeg_lacks_is_a_clear_error() -> None:
    missing = "dshow" if platform_format() != "dshow" else "v4l2"
    with pytest.raises(SourceError, match=f"this FFmpeg has no '{missing}' input"):
        CaptureSource("0", format=missing)


def test_live_generator_frames_are_rgb_with_arrival_times() -> None:
    with CaptureSource("testsrc2=size=64x48:rate=30", format="lavfi") as src:
        info = src.info
        assert (info.live, info.fps, info.size_hw, info.n_frames) == (True, 30.0, (48, 64), None)
        assert info.uri == "lavfi:testsrc2=size=64x48:rate=30" and info.extra["backend"] == "lavfi"
        frames = []
        for frame in src:
            frames.append(frame)
            if len(frames) == 4:
                break
    assert [f.index for f in frames] == [0, 1, 2, 3]
    assert all(f.image.shape == (48, 64, 3) and f.image.dtype == np.uint8 for f in frames)
    assert frames[0].timestamp == 0.0
    assert all(b.timestamp >= a.timestamp for a, b in zip(frames, frames[1:], strict=False))
    assert np.ptp(frames[0].image) > 100  # testsrc2's colour bars, not a blank frame
    with pytest.raises(SourceError, match="closed"):
        iter(src)


def _device_that_disappears(path: Path, n: int) -> threading.Thread:
    """A FIFO that delivers ``n`` raw RGB frames (frame i filled with 10*i), then its writer goes away."""
    os.mkfifo(path)

    def write() -> None:
        with open(path, "wb") as f:
            for i in range(n):
                f.write(np.full((6, 8, 3), 10 * i, np.uint8).tobytes())

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def test_device_that_disappears_ends_with_a_clear_error(tmp_path: Path) -> None:
    writer = _device_that_disappears(tmp_path / "grabber", 5)
    src = CaptureSource(tmp_path / "grabber", format="rawvideo", options=RAW)
    assert (src.info.size_hw, src.info.fps, src.info.extra["pix_fmt"]) == ((6, 8), 30.0, "rgb24")
    got = []
    with pytest.raises(SourceError, match=r"grabber stopped delivering frames after 5 frames"):
        for frame in src:
            got.append(frame)
    writer.join(5)
    assert [f.index for f in got] == [0, 1, 2, 3, 4]
    assert [int(f.image[0, 0, 0]) for f in got] == [0, 10, 20, 30, 40]  # each frame, once, in order
    src.close()
    src.close()


def test_every_frame_of_a_vanishing_device_is_accounted_for(tmp_path: Path, tiny_onnx: Path) -> None:
    from rtecho.pipeline import StreamProcessor
    from rtecho.runtime import load_engine

    _device_that_disappears(tmp_path / "grabber", 12)
    with StreamProcessor(load_engine(tiny_onnx)) as proc:  # live source: latest-frame policy
        summary = proc.run(CaptureSource(tmp_path / "grabber", format="rawvideo", options=RAW))
    assert summary.frames_read == 12 and summary.accounted, summary
    assert summary.processed + summary.dropped == 12 and summary.processed >= 1
    assert "stopped delivering frames after 12 frames" in (summary.stream_error or "")


class _Unplugged:
    """A real lavfi container whose decoder fails with ENODEV after ``n`` frames (V4L2's unplug)."""

    def __init__(self, container: Any, n: int) -> None:
        self._container, self.n, self.closed = container, n, False
        self.streams, self.format = container.streams, container.format

    def decode(self, *args: Any, **kw: Any) -> Any:
        for i, frame in enumerate(self._container.decode(*args, **kw)):
            if i == self.n:
                av.error.err_check(-errno.ENODEV)
            yield frame

    def close(self) -> None:
        self.closed = True
        self._container.close()


def test_unplugged_device_error_names_the_device(monkeypatch: pytest.MonkeyPatch) -> None:
    real_open, wrapped = av.open, []

    def fake_open(url: str, *args: Any, **kw: Any) -> _Unplugged:
        wrapped.append(_Unplugged(real_open("testsrc=size=32x24:rate=25", format="lavfi"), 3))
        return wrapped[0]

    monkeypatch.setattr(av, "open", fake_open)
    monkeypatch.setattr("rtecho.io.capture.os.path.exists", lambda p: p == "/dev/video4")
    src = CaptureSource("cam:4", size_hw=(24, 32), fps=25)
    assert (src.info.uri, src.info.size_hw, src.info.fps) == ("cam:4", (24, 32), 25.0)
    got = []
    with pytest.raises(SourceError, match=r"cam:4 stopped delivering frames after 3 frames \(No such device"):
        for frame in src:
            got.append(frame.index)
    assert got == [0, 1, 2] and not wrapped[0].closed
    src.close()
    assert wrapped[0].closed


@pytest.mark.parametrize(
    ("exc", "message"),
    [
        (PermissionError(errno.EACCES, "Permission denied"), "cam:2: permission denied"),
        (OSError(errno.EBUSY, "Device or resource busy"), "cam:2: busy"),
        (OSError(errno.EIO, "Input/output error"), "cam:2: Input/output error"),
    ],
)
def test_device_that_will_not_open(exc: OSError, message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: dict[str, Any] = {}

    def fake_open(url: str, *args: Any, **kw: Any) -> None:
        asked.update(url=url, **kw)
        raise exc

    monkeypatch.setattr(av, "open", fake_open)
    monkeypatch.setattr("rtecho.io.capture.os.path.exists", lambda p: True)
    with pytest.raises(SourceError, match=message):
        CaptureSource("cam:2", size_hw=(480, 640), fps=29.97, input_format="mjpeg")
    if platform_format() == "v4l2":
        assert asked["url"] == "/dev/video2" and asked["format"] == "v4l2"
        assert asked["options"] == {"video_size": "640x480", "framerate": "29.97", "input_format": "mjpeg"}
