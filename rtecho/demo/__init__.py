"""The live demo: a Gradio app for webcam streams, uploaded videos and DICOM cine loops.

Importing this package loads no gradio; :func:`build_app` and :func:`main` import it when called
(``pip install "rtecho[demo]"``).

>>> from rtecho.demo import build_app  # doctest: +SKIP
>>> build_app().launch(server_name="127.0.0.1")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from rtecho.demo.engines import EngineCache, backend_choices, card_markdown, model_choices
from rtecho.demo.options import DEFAULT_HOST, DEFAULT_PORT, add_arguments


def build_app(*args: Any, **kw: Any) -> Any:
    """Build the Gradio Blocks app; see :func:`rtecho.demo.app.build_app`."""
    from rtecho.demo.app import build_app as _build

    return _build(*args, **kw)


def main(argv: list[str] | None = None) -> int:
    """Launch the demo from the command line; see :func:`rtecho.demo.app.main`."""
    from rtecho.demo.app import main as _main

    return _main(argv)


__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "EngineCache",
    "add_arguments",
    "backend_choices",
    "build_app",
    "card_markdown",
    "main",
    "model_choices",
]
