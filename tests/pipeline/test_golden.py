"""Behaviour pin for refactors: the default model's per-frame results on the bundled sample clip and
pydicom's real A4C cine, with and without the ultrasound stage, equal the recorded ones.

The record (``tests/data/golden_predictions.npz``) was written by this file on main before the stage
contract refactor (issue 12) with ``RTECHO_WRITE_GOLDEN=1``. Probabilities must be bit-identical on a
CPU with the instruction set the record was made on (ONNX Runtime picks its kernels by ISA, and other
kernels round differently); elsewhere they must agree to 1e-5 and every label, mode and flag exactly.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden_predictions.npz"
CASES = [("sample", False), ("sample", True), ("a4c", False), ("a4c", True)]


def _isa() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            flags = next(ln for ln in f if ln.startswith("flags")).split()
    except (OSError, StopIteration):
        return "unknown"
    return ",".join(f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_tile") if f in flags)


def _source(name: str):
    from rtecho.io import open_source

    if name == "sample":
        from rtecho.bench.clips import SAMPLE_CLIP

        return open_source(str(SAMPLE_CLIP))
    pytest.importorskip("pydicom")
    from pydicom import examples

    return open_source(str(examples.get_path("ybr_color")))


def _run(name: str, ultrasound: bool) -> dict[str, np.ndarray]:
    from rtecho.pipeline import run_stream
    from rtecho.runtime import DEFAULT_MODEL, load_engine

    engine = load_engine(DEFAULT_MODEL, threads=1)
    _, preds = run_stream(engine, _source(name), ultrasound=ultrasound, policy="block", keep=True)
    k = len(engine.card.labels)
    nan = np.full(k, np.nan, np.float32)

    def vec(p):
        return nan if p is None else np.asarray(p, np.float32)

    return {
        "probabilities": np.stack([vec(p.probabilities) for p in preds]),
        "smoothed_probabilities": np.stack([vec(p.smoothed_probabilities) for p in preds]),
        "text": np.array(
            [
                f"{p.frame_index}|{p.label}|{p.smoothed_label}|{p.accepted}|{p.mode}|"
                f"{None if p.view_change is None else (p.view_change.from_label, p.view_change.to_label, p.view_change.frame_index)}|{p.error}"
                for p in preds
            ]
        ),
    }


def _write() -> None:
    out = {"isa": np.array(_isa())}
    for name, us in CASES:
        for key, val in _run(name, us).items():
            out[f"{name}_{int(us)}_{key}"] = val
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(GOLDEN, **out)


@pytest.mark.parametrize("name,ultrasound", CASES, ids=[f"{n}-{'us' if u else 'plain'}" for n, u in CASES])
def test_predictions_match_record(name, ultrasound):
    if os.environ.get("RTECHO_WRITE_GOLDEN") == "1" and (name, ultrasound) == CASES[0]:
        _write()
    gold = np.load(GOLDEN)
    got = _run(name, ultrasound)
    key = f"{name}_{int(ultrasound)}"
    assert list(got["text"]) == list(gold[f"{key}_text"])
    for field in ("probabilities", "smoothed_probabilities"):
        want = gold[f"{key}_{field}"]
        assert got[field].shape == want.shape
        if str(gold["isa"]) == _isa():
            assert got[field].tobytes() == want.tobytes(), f"{field} not bit-identical"
        else:
            np.testing.assert_allclose(got[field], want, atol=1e-5, rtol=0)
