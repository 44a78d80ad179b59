"""Fixtures for the rtecho.viz tests: predictions built by hand, images generated."""

from __future__ import annotations

import numpy as np
import pytest

from rtecho.types import Prediction
from tests.viz.helpers import make_error, make_prediction


@pytest.fixture
def pred() -> Prediction:
    return make_prediction()


@pytest.fixture
def err_pred() -> Prediction:
    return make_error()


@pytest.fixture
def gray240() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(40, 200, size=(240, 320), dtype=np.uint8)


@pytest.fixture
def make_pred():
    """The :func:`make_prediction` factory, for tests that need several predictions."""
    return make_prediction


@pytest.fixture
def make_err():
    """The :func:`make_error` factory."""
    return make_error
