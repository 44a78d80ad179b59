"""pytest-benchmark: what rtecho adds around the model (preprocess, queues, threads, postprocess).

Run: ``make benchmarks`` or ``pytest benchmarks/bench_pipeline.py --benchmark-enable``.
The acceptance figure (end-to-end p50 minus infer p50 < 1 ms with the small model at 128x128)
is printed by ``python -m rtecho.bench`` as the ``ovh`` column; these benchmarks isolate the parts.
"""

from __future__ import annotations

import numpy as np
import pytest

from rtecho.pipeline import StreamProcessor
from rtecho.runtime import load_engine
from rtecho.runtime.preprocess import Preprocessor

FRAME = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def engine():
    with load_engine("tiny-untrained") as e:
        yield e


def test_preprocess_240x320_to_128(benchmark, engine):
    pre = Preprocessor(engine.card)
    benchmark(pre, FRAME)


def test_infer_only(benchmark, engine):
    x = Preprocessor(engine.card)(FRAME)
    benchmark(engine.infer, x)


def test_process_synchronous(benchmark, engine):
    with StreamProcessor(engine) as proc:
        benchmark(proc.process, FRAME)


def test_submit_and_wait_through_worker(benchmark, engine):
    """Round trip through the worker thread: submit, then block until the result is back."""
    with StreamProcessor(engine, policy="block") as proc:
        proc.start()

        def roundtrip():
            proc.submit(FRAME)
            while not proc.poll(timeout=0.05):
                pass

        benchmark(roundtrip)
        proc.stop()
