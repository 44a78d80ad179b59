"""rtecho's live demo: ``python demos/gradio_app.py [--host 127.0.0.1] [--port 7860] [--max-upload-mb 200]``.

A thin launcher: the app lives in :mod:`rtecho.demo.app` (also ``rtecho demo``).
"""

from __future__ import annotations

import sys
from typing import Any


def build_app(*args: Any, **kw: Any) -> Any:
    """The demo's ``gr.Blocks`` (see :func:`rtecho.demo.app.build_app`)."""
    from rtecho.demo.app import build_app as _build

    return _build(*args, **kw)


def main(argv: list[str] | None = None) -> int:
    """Serve the demo until interrupted (see :func:`rtecho.demo.app.main`)."""
    from rtecho.demo.app import main as _main

    return _main(argv)


if __name__ == "__main__":
    sys.exit(main())
