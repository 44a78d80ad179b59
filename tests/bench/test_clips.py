"""The bundled labelled sample clip, the replay source and the sample writer."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from rtecho.bench.clips import SAMPLE_CLIP, SAMPLE_LABELS, load_sample_clip, sample_labels
from rtecho.bench.make_sample import FPS, SEGMENTS, write_avi
from rtecho.bench.replay import ReplaySource
from rtecho.types import Frame
from rtecho.views import VIEWS


def test_sample_clip_exists_and_labels_match_its_frames():
    assert SAMPLE_CLIP.is_file() and SAMPLE_LABELS.is_file()
    assert SAMPLE_CLIP.stat().st_size <= 1_000_000
    meta = sample_labels()
    clip = load_sample_clip()
    assert clip.n_frames == meta["n_frames"] == len(meta["labels"]) == sum(n for _, n in SEGMENTS)
    assert list(clip.size_hw) == meta["size_hw"] and clip.fps == meta["fps"] == FPS
    assert set(meta["labels"]) <= set(VIEWS) and "SIMULATED" in meta["description"]
    for seg in meta["segments"]:
        assert set(meta["labels"][seg["start"] : seg["stop"]]) == {seg["view"]}


def test_sample_clip_frames_change_between_views():
    clip = load_sample_clip()
    first = clip.frames[0].image.astype(np.float32)
    same_view = clip.frames[5].image.astype(np.float32)
    other_view = clip.frames[SEGMENTS[0][1] + 5].image.astype(np.float32)
    assert np.abs(first - other_view).mean() > np.abs(first - same_view).mean()


def test_write_avi_is_reproducible(tmp_path):
    frames = np.random.default_rng(0).integers(0, 255, (3, 32, 48), dtype=np.uint8)
    a, b = tmp_path / "a.avi", tmp_path / "b.avi"
    write_avi(a, frames, 30.0)
    write_avi(b, frames, 30.0)
    assert a.read_bytes() == b.read_bytes()


def _frames(n: int = 3) -> list[Frame]:
    return [Frame(np.full((8, 8), i, np.uint8), index=i, timestamp=i / 30) for i in range(n)]


def test_replay_loops_with_continuous_indices():
    src = ReplaySource(_frames(3), fps=30, n_frames=7)
    got = list(src)
    assert [f.index for f in got] == list(range(7))
    assert [int(f.image[0, 0]) for f in got] == [0, 1, 2, 0, 1, 2, 0]
    assert got[-1].timestamp == 6 / 30 and src.info.n_frames == 7


def test_replay_lockstep_waits_for_done():
    src = ReplaySource(_frames(), fps=30, n_frames=5, lockstep=True, timeout=0.05)
    assert len(list(src)) == 1  # nobody called done(): the run ends at the timeout, it does not hang

    src = ReplaySource(_frames(), fps=30, n_frames=5, lockstep=True, timeout=2.0)
    seen = []
    for f in src:
        seen.append(f.index)
        threading.Timer(0.001, src.done).start()
    assert seen == [0, 1, 2, 3, 4]


def test_replay_paced_releases_at_fps():
    src = ReplaySource(_frames(), fps=30, n_frames=4, pace_fps=100.0)
    arrivals = [f.arrival for f in src]
    assert arrivals[-1] - arrivals[0] >= 3 / 100 - 1e-3


@pytest.mark.slow
def test_sample_clip_regenerates_to_the_committed_frames():
    """Drift detector: the simulator still renders the committed clip (regenerate it if this fails)."""
    import hashlib

    from rtecho.bench.make_sample import render_session

    frames, labels = render_session()
    meta = sample_labels()
    assert labels == meta["labels"]
    assert hashlib.sha256(frames.tobytes()).hexdigest() == meta["frames_sha256"]
