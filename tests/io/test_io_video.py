"""VideoSource on generated MP4/H.264, AVI/MJPEG and GIF clips, and on broken files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rtecho.errors import SourceError
from rtecho.io import VideoSource
from tests.fixtures import make_truncated, pattern_frame, square_x


@pytest.mark.parametrize(("key", "n", "fps"), [("mp4", 10, 30.0), ("avi", 10, 30.0), ("mp4_25", 5, 25.0)])
def test_reads_every_frame_in_order(media: dict[str, Path], key: str, n: int, fps: float) -> None:
    with VideoSource(media[key]) as src:
        assert src.info.kind == "video"
        assert src.info.fps == pytest.approx(fps)
        assert src.info.n_frames == n
        assert src.info.size_hw == (96, 128)
        assert not src.info.live
        frames = list(src)
    assert [f.index for f in frames] == list(range(n))
    for i, f in enumerate(frames):
        assert f.image.shape == (96, 128, 3) and f.image.dtype == np.uint8
        assert f.source is src.info
        assert f.decode_ms >= 0
        # the moving square identifies the frame (lossy codecs blur edges by a pixel or two)
        assert abs(square_x(f.image) - square_x(pattern_frame(i))) <= 2
    stamps = [f.timestamp for f in frames]
    assert np.allclose(np.diff(stamps), 1.0 / fps, atol=1e-3)
    arrivals = [f.arrival for f in frames]
    assert arrivals == sorted(arrivals)


def test_colour_is_kept_rgb(media: dict[str, Path]) -> None:
    frame = next(iter(VideoSource(media["avi"])))
    x0 = square_x(pattern_frame(0))
    r, g, b = (int(v) for v in frame.image[48, x0 + 10])
    assert r > 180 and g < 110 and b < 100  # the square is red in the pattern (RGB order, not BGR)


def test_gif(media: dict[str, Path]) -> None:
    with VideoSource(media["gif"]) as src:
        frames = list(src)
        assert src.info.fps is not None
    assert len(frames) == 6
    assert frames[0].image.shape == (96, 128, 3)
    assert all(b.timestamp > a.timestamp for a, b in zip(frames, frames[1:], strict=False))


def test_second_iteration_restarts(media: dict[str, Path]) -> None:
    src = VideoSource(media["mp4"])
    first = [f.index for f in src]
    again = [f.index for f in src]
    src.close()
    assert first == again == list(range(10))


def test_close_twice_and_iterate_after_close(media: dict[str, Path]) -> None:
    src = VideoSource(media["mp4"])
    src.close()
    src.close()
    with pytest.raises(SourceError, match="closed"):
        iter(src)


def test_close_stops_a_running_iteration(media: dict[str, Path]) -> None:
    src = VideoSource(media["mp4"])
    seen = []
    for f in src:
        seen.append(f.index)
        if f.index == 2:
            src.close()
    assert seen == [0, 1, 2]


def test_truncated_faststart_mp4_yields_frames_then_raises(media: dict[str, Path], tmp_path: Path) -> None:
    bad = make_truncated(media["mp4_faststart"], tmp_path / "cut.mp4", 0.6)
    got = []
    with pytest.raises(SourceError, match=r"truncated.*after (\d+) frames") as err:
        for f in VideoSource(bad):
            got.append(f.index)
    assert 0 < len(got) < 30
    assert f"after {len(got)} frames" in str(err.value)
    assert "\n" not in str(err.value)


def test_truncated_mp4_with_index_at_end_fails_to_open(media: dict[str, Path], tmp_path: Path) -> None:
    # without faststart the moov index sits at the end: a cut file cannot be opened at all
    bad = make_truncated(media["mp4"], tmp_path / "cut.mp4", 0.5)
    with pytest.raises(SourceError, match="cut.mp4"):
        VideoSource(bad)


def test_truncated_avi_raises_naming_the_count(media: dict[str, Path], tmp_path: Path) -> None:
    bad = make_truncated(media["avi"], tmp_path / "cut.avi", 0.6)
    got = 0
    with pytest.raises(SourceError, match="truncated") as err:
        for _ in VideoSource(bad):
            got += 1
    assert f"after {got} frames" in str(err.value)


def test_not_a_video(tmp_path: Path) -> None:
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is not a video\n" * 50)
    with pytest.raises(SourceError, match="notes.mp4") as err:
        VideoSource(bad)
    assert err.value.__cause__ is not None  # chained from the PyAV error


def test_empty_file(tmp_path: Path) -> None:
    bad = tmp_path / "empty.avi"
    bad.write_bytes(b"")
    with pytest.raises(SourceError, match="empty.avi"):
        VideoSource(bad)


def test_nonexistent(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not found"):
        VideoSource(tmp_path / "missing.mp4")


def test_directory_is_not_a_video(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="directory"):
        VideoSource(tmp_path)


def test_slice_threading_never_frame_threading(media: dict[str, Path]) -> None:
    src = VideoSource(media["mp4"])
    assert src.info.extra["threading"] == "SLICE"  # frame threading would hold frames back (latency)
    src.close()


def test_unknown_codec_is_a_clear_error(tmp_path):
    from tests.fixtures import make_video

    avi = make_video(tmp_path / "clip.avi", "mjpeg", n=3)
    unknown = tmp_path / "q.avi"
    unknown.write_bytes(avi.read_bytes().replace(b"MJPG", b"QQQQ"))
    with pytest.raises(SourceError, match="unsupported codec"):
        VideoSource(unknown)
