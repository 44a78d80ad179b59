"""The command line: the table, the --json document against its schema, env, streams, batch, realtime."""

from __future__ import annotations

import json

import jsonschema
import pytest

from rtecho.bench import load_schema
from rtecho.bench.cli import main
from rtecho.bench.report import COLUMNS

REQUIRED_COLUMNS = (
    "model", "backend", "input", "params", "GFLOPs", "inf p50", "inf p95", "inf p99",
    "e2e p50", "e2e p99", "fps", "drop", "acc", "x torch", "GFLOP/s", "%peak",
)  # fmt: skip


def _validate(doc: dict) -> None:
    jsonschema.validate(doc, load_schema(), cls=jsonschema.Draft202012Validator)


def test_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(load_schema())


def test_default_run_json_validates_against_schema(small_run):
    rc, _, doc = small_run
    assert rc == 0
    _validate(doc)
    assert doc["environment"]["cores"] >= 1 and doc["environment"]["versions"]["numpy"]
    ort = [r for r in doc["results"] if r["backend"] == "onnxruntime"]
    assert {r["clip"] for r in ort} == {c["name"] for c in doc["clips"]}
    for r in ort:
        assert r["frames"] == 12 and r["errors"] == 0
        assert 0 < r["latency_ms"]["infer"]["p50"] <= r["latency_ms"]["end_to_end"]["p50"]
        assert r["fraction_of_peak"] is not None and r["fraction_of_peak"] > 0


def test_accuracy_only_on_the_labelled_clip(small_run):
    _, _, doc = small_run
    labelled = {c["name"]: c["labelled"] for c in doc["clips"]}
    for r in doc["results"]:
        assert (r["accuracy"] is not None) == labelled[r["clip"]]
        if r["accuracy"] is not None:
            assert 0.0 <= r["accuracy"] <= r["accuracy_coarse"] <= 1.0


def test_schema_rejects_a_broken_document(small_run):
    _, _, doc = small_run
    bad = json.loads(json.dumps(doc))
    del bad["results"][0]["latency_ms"]["end_to_end"]
    with pytest.raises(jsonschema.ValidationError):
        _validate(bad)


def test_table_has_every_column(small_run):
    _, out, _ = small_run
    header = next(line for line in out.splitlines() if line.startswith("model"))
    for name in REQUIRED_COLUMNS:
        assert name in header, name
    assert [name for name, _ in COLUMNS][: len(REQUIRED_COLUMNS) - 4] != []
    assert "tiny-untrained*" in out and "acceptance" in out


def test_env_subcommand(capsys):
    assert main(["env"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("cpu") and "numpy" in out


def test_streams_two(tmp_path, capsys):
    out = tmp_path / "s.json"
    argv = ["--models", "tiny-untrained", "--backends", "onnxruntime", "--precision", "fp32", "--streams", "2",
            "--stream-frames", "6", "--no-peak", "--quiet", "--json", str(out)]  # fmt: skip
    assert main(argv) == 0
    doc = json.loads(out.read_text())
    _validate(doc)
    [run] = doc["streams"]
    assert run["n_streams"] == 2 and len(run["streams"]) == 2
    for s in run["streams"]:
        assert s["frames"] + s["dropped"] == 6 and s["end_to_end_ms"]["n"] == s["frames"]
    out = capsys.readouterr().out
    assert (
        "streams at 30 fps each" in out
        and len([ln for ln in out.splitlines() if "tiny-untrained" in ln]) == 1
    )


def test_batch_four(tmp_path):
    out = tmp_path / "b.json"
    argv = ["--models", "tiny-untrained", "--backends", "onnxruntime", "--batch", "4", "--frames", "12",
            "--no-peak", "--quiet", "--json", str(out)]  # fmt: skip
    assert main(argv) == 0
    doc = json.loads(out.read_text())
    _validate(doc)
    [b] = [b for b in doc["batch"] if b["precision"] == "fp32"]
    assert b["batch"] == 4 and b["batches"] == 3 and b["images_per_s"] > 0


def test_realtime_is_paced_and_counts_misses(tmp_path):
    out = tmp_path / "r.json"
    argv = ["--models", "tiny-untrained", "--backends", "onnxruntime", "--precision", "fp32", "--realtime",
            "--frames", "6", "--warmup", "1", "--no-peak", "--quiet", "--clip", "synthetic:n=6,size=64x64,fps=30",
            "--json", str(out)]  # fmt: skip
    assert main(argv) == 0
    [r] = json.loads(out.read_text())["results"]
    assert r["mode"] == "paced" and r["pace_fps"] == 30.0
    assert isinstance(r["deadline_misses"], int) and r["frames"] + r["dropped"] == 6
    assert r["wall_s"] >= 5 / 30  # six frames released at 30 fps take at least five periods


def test_plot_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "cdf.png"
    argv = ["--models", "tiny-untrained", "--backends", "onnxruntime", "--precision", "fp32", "--frames", "5",
            "--no-peak", "--quiet", "--clip", "synthetic:n=5,size=64x64", "--plot", str(png)]  # fmt: skip
    assert main(argv) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "argv",
    [["--frames", "0"], ["--models", "no-such-model"], ["--precision", "fp64"], ["--batch", "-1"]],
)
def test_bad_arguments_give_one_line_errors(argv, capsys):
    assert main([*argv, "--no-peak", "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("rtecho.bench: error:")


def test_rtecho_bench_subcommand(capsys):
    from rtecho.cli import main as rtecho_main

    assert rtecho_main(["bench", "env"]) == 0
    assert capsys.readouterr().out.startswith("cpu")


def test_recorded_results_follow_the_schema():
    from rtecho.bench.cli import RESULTS_DIR

    recorded = sorted(RESULTS_DIR.glob("bench-*.json"))
    if not recorded:
        pytest.skip("no recorded bench results under benchmarks/results/")
    for path in recorded:
        _validate(json.loads(path.read_text()))


def test_rtecho_bench_forwards_the_options(tmp_path):
    from rtecho.cli import main as rtecho_main

    out = tmp_path / "r.json"
    argv = ["bench", "--models", "tiny-untrained", "--backends", "onnxruntime", "--precision", "fp32", "--frames",
            "3", "--no-peak", "--quiet", "--clip", "synthetic:n=3,size=32x32", "--json", str(out)]  # fmt: skip
    assert rtecho_main(argv) == 0
    [r] = json.loads(out.read_text())["results"]
    assert r["model"] == "tiny-untrained" and r["frames"] == 3
    assert rtecho_main(["bench", "--frames", "0", "--no-peak"]) == 1


@pytest.mark.openvino
@pytest.mark.slow
def test_openvino_run(tmp_path):
    """OpenVINO through the CLI. Slow-marked because OpenVINO 2026.4 segfaults now and then when a
    process compiles engines again after worker threads used one (rtecho.runtime.ov creates an
    ``ov.Core()`` per engine; one shared Core avoids it)."""
    out = tmp_path / "ov.json"
    argv = ["--models", "tiny-untrained", "--backends", "openvino", "--precision", "fp32", "--frames", "8",
            "--no-peak", "--quiet", "--clip", "synthetic:n=8,size=64x64", "--json", str(out)]  # fmt: skip
    assert main(argv) == 0
    [r] = json.loads(out.read_text())["results"]
    _validate(json.loads(out.read_text()))
    assert r["backend"] == "openvino" and r["frames"] == 8 and r["threads"] >= 1
