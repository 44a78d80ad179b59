"""Fixtures for the rtecho.train tests."""

from __future__ import annotations

import pytest

from tests.train.helpers import make_folder


@pytest.fixture
def image_folder(tmp_path):
    """A fresh 2-label ImageFolder (6 PNGs per label) for each test."""
    return make_folder(tmp_path / "data")
