"""SyntheticSource and the Source base contract (close twice, iterate after close, threads)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from rtecho.errors import SourceError
from rtecho.io import Source, SyntheticSource


def test_deterministic_and_moving() -> None:
    a = [f.image for f in SyntheticSource(n_frames=5, size_hw=(40, 56), seed=3)]
    b = [f.image for f in SyntheticSource(n_frames=5, size_hw=(40, 56), seed=3)]
    c = [f.image for f in SyntheticSource(n_frames=5, size_hw=(40, 56), seed=4)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])
    assert all(not np.array_equal(x, y) for x, y in zip(a, a[1:], strict=False))
    assert a[0].shape == (40, 56) and a[0].dtype == np.uint8
    assert a[0].max() > 100 and a[0].min() == 0  # visible content inside a dark background


def test_info_timestamps_and_colour() -> None:
    src = SyntheticSource(n_frames=4, size_hw=(32, 32), fps=50.0, color=True, live=True)
    assert isinstance(src, Source)
    assert (src.info.kind, src.info.fps, src.info.n_frames, src.info.live) == ("synthetic", 50.0, 4, True)
    frames = list(src)
    assert [f.timestamp for f in frames] == pytest.approx([0.0, 0.02, 0.04, 0.06])
    assert frames[0].image.shape == (32, 32, 3)


def test_paced_source_releases_frames_no_earlier_than_scheduled() -> None:
    src = SyntheticSource(n_frames=4, size_hw=(16, 16), fps=100.0, pace=True)
    frames = list(src)
    # frame i is released no earlier than i / fps after the first (sleeping never returns early)
    offsets = [f.arrival - frames[0].arrival for f in frames]
    assert all(off >= i / 100.0 - 2e-3 for i, off in enumerate(offsets))


def test_close_from_another_thread_stops_an_endless_paced_source() -> None:
    src = SyntheticSource(n_frames=None, size_hw=(16, 16), fps=200.0, pace=True, live=True)
    seen: list[int] = []
    t = threading.Thread(target=lambda: seen.extend(f.index for f in src))
    t.start()
    while not seen and t.is_alive():
        t.join(0.01)
    src.close()
    t.join(timeout=5)
    assert not t.is_alive()
    assert seen == list(range(len(seen))) and seen


def test_context_manager_close_twice_iterate_after_close() -> None:
    with SyntheticSource(n_frames=2, size_hw=(8, 8)) as src:
        assert len(list(src)) == 2
    assert src.closed
    src.close()
    with pytest.raises(SourceError, match="closed"):
        iter(src)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        SyntheticSource(size_hw=(4, 4))
    with pytest.raises(ValueError):
        SyntheticSource(fps=0)
