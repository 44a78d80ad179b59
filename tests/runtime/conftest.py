from __future__ import annotations

import pytest

from rtecho.runtime.tiny import build_tiny_classifier


@pytest.fixture(scope="session")
def tiny_onnx(tmp_path_factory):
    """A freshly built tiny untrained classifier (128x128 gray, 13 views) and its card."""
    return build_tiny_classifier(tmp_path_factory.mktemp("tiny") / "tiny.onnx", name="tiny")
