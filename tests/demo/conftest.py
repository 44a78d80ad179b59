"""A demo app served once for the session on a free port of 127.0.0.1 (helpers: tests/demo/helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures import free_port


@pytest.fixture(scope="session")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of the demo app, launched in this process (``prevent_thread_lock``), closed at the end."""
    pytest.importorskip("gradio", reason="the demo needs gradio (pip install 'rtecho[demo]')")
    from rtecho.demo.app import build_app, launch
    from rtecho.demo.engines import EngineCache

    cache = EngineCache()
    app = build_app(cache, model="tiny-untrained", work_dir=tmp_path_factory.mktemp("demo_runs"))
    url = launch(
        app, host="127.0.0.1", port=free_port(), max_upload_mb=20, prevent_thread_lock=True, quiet=True
    )
    try:
        yield url
    finally:
        app.close()
        cache.close()
