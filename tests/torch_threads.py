"""One torch thread per test: tiny networks run many times faster single-threaded on a shared CPU.

A conftest that wants it imports the fixture: ``from tests.torch_threads import one_torch_thread``.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def one_torch_thread():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
