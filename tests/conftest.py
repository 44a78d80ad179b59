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
def tiny_classifier(tmp_path_factory: pytest.TempPathFactory):
    """``build(**kw)``: a tiny untrained classifier (``build_tiny_classifier`` arguments) and its card,
    built once per distinct arguments in the session."""
    from rtecho.runtime.tiny import build_tiny_classifier

    built: dict[tuple, Path] = {}

    def build(**kw) -> Path:
        key = tuple(sorted(kw.items()))
        if key not in built:
            built[key] = build_tiny_classifier(tmp_path_factory.mktemp("tiny") / "tiny.onnx", **kw)
        return built[key]

    return build


@pytest.fixture(scope="session")
def tiny_onnx(tiny_classifier) -> Path:
    """The tiny untrained classifier (128x128 gray, 13 views) named ``tiny``, once per session."""
    return tiny_classifier(name="tiny")


@pytest.fixture
def image_folder(tmp_path):
    """A fresh 2-label ImageFolder (6 PNGs per label) for each test (training, eval, calibration)."""
    from tests.train.helpers import make_folder

    return make_folder(tmp_path / "data")
