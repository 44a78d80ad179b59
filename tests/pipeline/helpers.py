"""Test engines and sources for the pipeline tests (slow, flaky and buggy engines; a paced list source)."""

from __future__ import annotations

import time

import numpy as np

from rtecho.errors import EngineError, SourceError
from rtecho.io.pacing import paced
from rtecho.runtime import load_engine
from rtecho.runtime.ort import OrtEngine
from rtecho.types import Frame, SourceInfo


class SlowEngine(OrtEngine):
    """Test double: the tiny model, plus a fixed sleep per inference."""

    delay_s = 0.05

    def _infer(self, batch):
        time.sleep(self.delay_s)
        return super()._infer(batch)


class FlakyEngine(OrtEngine):
    """Test double: fails on every third call, as a GPU that hiccups would."""

    calls = 0

    def _infer(self, batch):
        type(self).calls += 1
        if type(self).calls % 3 == 0:
            raise EngineError("simulated device failure")
        return super()._infer(batch)


class BuggyEngine(OrtEngine):
    def _infer(self, batch):
        raise ZeroDivisionError("a bug, not a frame problem")


def make_engine(tiny_onnx, cls=OrtEngine):
    base = load_engine(tiny_onnx)
    return cls(base.model_path, base.card)


class ListSource:
    """Frames from a list; ``fail_after`` raises SourceError like a truncated file; ``live`` paces at fps."""

    def __init__(self, n=20, size_hw=(96, 128), fps=30.0, live=False, fail_after=None):
        self.n, self.size_hw, self.fps, self.live, self.fail_after = n, size_hw, fps, live, fail_after
        self.info = SourceInfo(uri="list://", kind="test", fps=fps, size_hw=size_hw, n_frames=n, live=live)
        self.closed = False

    def __iter__(self):
        return paced(self._frames()) if self.live else self._frames()

    def _frames(self):
        rng = np.random.default_rng(0)
        for i in range(self.n):
            if self.fail_after is not None and i == self.fail_after:
                raise SourceError(f"list://: truncated after {i} frames")
            img = rng.integers(0, 255, (*self.size_hw, 3), dtype=np.uint8)
            yield Frame(img, index=i, timestamp=i / self.fps, source=self.info)

    def close(self):
        self.closed = True
