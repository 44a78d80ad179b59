"""``rtecho demo``: serve the live Gradio demo (webcam, video/DICOM upload, model card)."""

from __future__ import annotations

import argparse

NAME = "demo"
HELP = "serve the live demo in the browser (Gradio; binds 127.0.0.1 unless --host)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from rtecho.demo.options import add_arguments as demo_arguments

    demo_arguments(p)


def run(args: argparse.Namespace) -> int:
    from rtecho.demo.app import run_from_args

    return run_from_args(args)
