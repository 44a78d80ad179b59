"""Command-line options of the demo, shared by ``rtecho demo`` and ``demos/gradio_app.py`` (no gradio)."""

from __future__ import annotations

import argparse

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
DEFAULT_MAX_UPLOAD_MB = 200.0


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add the demo's options (host, port, share, upload limit, model, live time limit) to ``p``."""
    p.add_argument(
        "--host", default=DEFAULT_HOST, help="address to bind (default 127.0.0.1: this machine only)"
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to listen on (default 7860)")
    p.add_argument(
        "--share",
        choices=("never",),
        default="never",
        help="public share links are not supported (they need a tunnel to the internet)",
    )
    p.add_argument(
        "--max-upload-mb",
        type=_positive,
        default=DEFAULT_MAX_UPLOAD_MB,
        help="largest upload accepted, in MB (default 200)",
    )
    p.add_argument("--model", default=None, help="model selected at start (name in engines/ or ONNX path)")
    p.add_argument("--backend", default=None, help="backend selected at start (default: first installed)")
    p.add_argument(
        "--webcam-fps",
        type=_positive,
        default=20.0,
        help="rate at which the browser sends webcam frames (default 20; at most one frame in flight)",
    )
    p.add_argument(
        "--live-time-limit",
        type=_positive,
        default=600.0,
        help="seconds one webcam stream may run before it stops (default 600)",
    )
