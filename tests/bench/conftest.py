"""Fixtures of the bench tests: one small run of the CLI whose JSON several tests read."""

from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="session")
def small_run(tmp_path_factory):
    """`python -m rtecho.bench` on the tiny model, 12 frames per run, with a quick GEMM peak.

    ONNX Runtime and torch only: OpenVINO 2026.4 segfaults intermittently when engines are compiled
    again after a worker thread used one (a new ``ov.Core()`` per engine; see test_openvino_run).
    """
    import rtecho.bench.peak as peak
    from rtecho.bench.cli import main

    out = tmp_path_factory.mktemp("bench") / "run.json"
    real = peak.cpu_peaks
    mp = pytest.MonkeyPatch()
    mp.setattr(peak, "cpu_peaks", lambda: real(sizes=(64, 128), repeats=2))
    try:
        import io
        from contextlib import redirect_stdout

        buf = io.StringIO()
        argv = [
            "--models",
            "tiny-untrained",
            "--frames",
            "12",
            "--warmup",
            "2",
            "--quiet",
            "--json",
            str(out),
        ]
        with redirect_stdout(buf):
            rc = main(argv)
    finally:
        mp.undo()
    return rc, buf.getvalue(), json.loads(out.read_text())
