"""Adding a backend is one module plus one registration line: a numpy backend defined in the tests
(``tests/runtime/numpy_backend.py``) runs through ``load_engine``, ``rtecho run``, ``rtecho build``
and the bench, with no other file touched."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from rtecho.runtime import BackendSpec, list_backends, load_engine, register_backend, unregister_backend
from rtecho.types import ModelCard, card_path_for
from tests.fixtures import make_png_folder

NAME = "numpy-ref"


@pytest.fixture
def numpy_backend():
    register_backend(BackendSpec(NAME, "tests.runtime.numpy_backend", "NumpyEngine", "numpy", "dev", "numpy"))
    yield NAME
    unregister_backend(NAME)
    assert NAME not in list_backends()


@pytest.fixture
def tiny(tiny_onnx, tmp_path):
    path = tmp_path / "tiny.onnx"
    shutil.copy(tiny_onnx, path)
    shutil.copy(card_path_for(tiny_onnx), card_path_for(path))
    return path


def test_numpy_engine_agrees_with_onnxruntime(numpy_backend, tiny):
    x = np.random.default_rng(0).normal(size=(3, 1, 128, 128)).astype(np.float32)
    with load_engine(tiny, backend=NAME) as mine, load_engine(tiny, backend="onnxruntime") as ort:
        assert mine.info.backend == NAME
        np.testing.assert_allclose(mine.infer(x), ort.infer(x), rtol=1e-4, atol=1e-4)


def test_rtecho_run_and_build_on_the_plugin(numpy_backend, tiny, tmp_path, capsys):
    from rtecho.cli import main

    clip = make_png_folder(tmp_path / "pngs", n=4)
    log = tmp_path / "log.jsonl"
    argv = ["run", str(clip), "--model", str(tiny), "--backend", NAME, "--jsonl", str(log), "--no-progress"]
    assert main(argv) == 0, capsys.readouterr().err
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(rows) == 4 and {r["backend"] for r in rows} == {f"{NAME}/fp32"}
    assert all("error" not in r for r in rows)
    # the backend names and makes its own fp16 variant file; the card records it, typed
    assert main(["build", str(tiny), "--backend", NAME, "--precision", "fp16"]) == 0
    variant = ModelCard.load(card_path_for(tiny)).variants["fp16"]
    assert variant.file == "tiny.fp16.npz" and variant.backend == NAME and variant.precision == "fp16"
    # ... and that file, given as --model, finds its card and runs on the backend it was made for
    log.unlink()
    argv = [
        "run",
        str(clip),
        "--model",
        str(tiny.with_name("tiny.fp16.npz")),
        "--jsonl",
        str(log),
        "--no-progress",
    ]
    assert main(argv) == 0, capsys.readouterr().err
    assert {json.loads(line)["backend"] for line in log.read_text().splitlines()} == {f"{NAME}/fp16"}


def test_bench_runs_the_plugin(numpy_backend, tmp_path, capsys):
    from rtecho.bench.cli import main

    out = tmp_path / "run.json"
    argv = ["--models", "tiny-untrained", "--backends", NAME, "--precision", "fp32", "fp16",
            "--frames", "6", "--warmup", "1", "--no-peak", "--quiet", "--json", str(out)]  # fmt: skip
    assert main(argv) == 0
    doc = json.loads(out.read_text())
    rows = [r for r in doc["results"] if r["backend"] == NAME]
    assert rows and all(r["precision"] == "fp32" and r["frames"] == 6 and r["errors"] == 0 for r in rows)
    # fp16 is skipped for want of the file the backend names (its own naming rule, its own hint)
    assert "tiny-untrained.fp16.npz" in capsys.readouterr().err


def test_calibrate_asks_the_backend(numpy_backend, tiny, tmp_path, capsys):
    from rtecho.cli import main

    data = tmp_path / "calib"
    data.mkdir()
    np.save(data / "f0.npy", np.zeros((64, 64), np.uint8))
    assert main(["calibrate", str(tiny), "--data", str(data), "--backend", NAME]) == 1
    err = capsys.readouterr().err
    assert f"backend {NAME!r} reads no int8 file of its own" in err and "onnxruntime" in err
