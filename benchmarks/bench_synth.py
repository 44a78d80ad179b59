"""Throughput of rtecho.synth (frames/s = 1 / mean time).

Run: .venv/bin/pytest benchmarks/bench_synth.py --benchmark-enable
Acceptance: >= 100 frames/s at 128x128 and >= 25 frames/s at 256x256 (single process);
simulator v2 (3-D heart): >= 50 stills/s at 128x128.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from rtecho.synth import render_cine, render_view
from rtecho.views import VIEWS

pytestmark = pytest.mark.benchmark


@pytest.mark.parametrize("size", [128, 256])
def test_bench_render_view(benchmark, size):
    rng = np.random.default_rng(0)
    views = itertools.cycle(VIEWS)
    benchmark(lambda: render_view(next(views), rng, (size, size)))


@pytest.mark.parametrize("size", [128, 256])
def test_bench_render_cine_per_loop_of_16(benchmark, size):
    rng = np.random.default_rng(0)
    benchmark(lambda: render_cine("A4C", rng, n_frames=16, fps=50, size_hw=(size, size)))


def test_bench_render_view_v2_128(benchmark):
    """Simulator v2 (3-D heart sliced by probe poses): acceptance >= 50 stills/s at 128x128, one core."""
    from rtecho.synth.heart3d import render_view as render_v2

    rng = np.random.default_rng(0)
    views = itertools.cycle(VIEWS)
    benchmark(lambda: render_v2(next(views), rng, (128, 128)))
