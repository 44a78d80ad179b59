"""Shared fixtures and marker handling: `gpu`, `tensorrt`, `openvino`, `slow` skip themselves.

Helpers that tests import live in modules (tests/fixtures.py, tests/*/helpers.py), not here.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _has_gpu() -> bool:
    return shutil.which("nvidia-smi") is not None and os.path.exists("/dev/nvidiactl")


def pytest_collection_modifyitems(config, items):
    reasons = {
        "gpu": None if _has_gpu() else "needs an NVIDIA GPU",
        "tensorrt": None if (_has_gpu() and _has("tensorrt")) else "needs TensorRT and an NVIDIA GPU",
        "openvino": None if _has("openvino") else "needs OpenVINO (pip install 'rtecho[openvino]')",
        "slow": None if os.environ.get("RTECHO_SLOW") == "1" else "slow; set RTECHO_SLOW=1 to run",
    }
    for item in items:
        for name, reason in reasons.items():
            if reason and name in item.keywords:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def tiny_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A freshly built tiny untrained classifier (128x128 gray, 13 views) and its card, once per session."""
    from rtecho.runtime.tiny import build_tiny_classifier

    return build_tiny_classifier(tmp_path_factory.mktemp("tiny") / "tiny.onnx", name="tiny")
