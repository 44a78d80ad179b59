"""`import rtecho` stays light, and the runtime path works without torch."""

from __future__ import annotations

import subprocess
import sys
import textwrap

HEAVY = (
    "torch",
    "onnxruntime",
    "openvino",
    "av",
    "cv2",
    "pydicom",
    "gradio",
    "tensorrt",
    "onnx",
    "matplotlib",
    "ray",
    "pyarrow",
)


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )


def test_import_rtecho_imports_no_heavy_module():
    r = _run(
        f"""
        import sys, rtecho, rtecho.runtime, rtecho.pipeline, rtecho.cli
        heavy = [m for m in {HEAVY!r} if m in sys.modules]
        print(",".join(heavy))
        """
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "", f"imported at import time: {r.stdout.strip()}"


BLOCK_TORCH = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked in this test")
sys.meta_path.insert(0, _Block())
"""


def test_runtime_path_runs_without_torch():
    r = _run(
        BLOCK_TORCH
        + """
import numpy as np
from rtecho.runtime import load_engine
from rtecho.pipeline import StreamProcessor
with StreamProcessor(load_engine("tiny-untrained")) as proc:
    p = proc.process(np.zeros((240, 320, 3), np.uint8))
assert p.ok, p.error
import sys
assert "torch" not in sys.modules
print("ok", p.label)
"""
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ok")


def test_cli_help_lists_run():
    r = subprocess.run(
        [sys.executable, "-m", "rtecho.cli", "--help"], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0 and "run" in r.stdout
