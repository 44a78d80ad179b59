"""``python -m rtecho.bench peers``: rtecho's half always; FAST's half where its environment exists."""

from __future__ import annotations

import json

import pytest

from rtecho.bench.cli import main
from rtecho.bench.peers import find_fast_python, opset17_copy

pytest.importorskip("pydicom", reason="needs pydicom (pip install 'rtecho[dicom]')")


def test_rtecho_half_on_the_real_a4c_cine(tmp_path, capsys):
    out = tmp_path / "peers.json"
    argv = ["peers", "--rtecho-only", "--rounds", "2", "--frames", "12", "--warmup", "2"]
    rc = main([*argv, "--model", "tiny-untrained", "--json", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "examples_ybr_color.dcm: 30 frames 320x240" in text and "rtecho onnxruntime/fp32" in text
    (row,) = json.loads(out.read_text())["rows"]
    assert row["lockstep"]["n"] == 24 and 0 < row["lockstep"]["p50"] <= row["lockstep"]["p99"]
    assert row["streamed_fps"] > 0 and len(row["labels"]) == 12 and all(row["labels"])


def test_missing_fast_environment_says_how_to_set_it_up(tmp_path, capsys):
    rc = main(["peers", "--fast-python", str(tmp_path / "nope" / "python"), "--model", "tiny-untrained"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "make peers" in err and "pip install pyfast==4.18.0" in err and "pocl-opencl-icd" in err


def test_opset17_copy_matches_the_original(tmp_path):
    onnx = pytest.importorskip("onnx")
    from rtecho.runtime.model_file import resolve_model

    src = resolve_model("darts2")
    dst = opset17_copy(src, tmp_path / "darts2.op17.onnx")  # raises if ORT outputs differ
    model = onnx.load(str(dst))
    assert {op.version for op in model.opset_import if op.domain in ("", "ai.onnx")} == {17}
    reduces = [n for n in model.graph.node if n.op_type.startswith("Reduce")]
    assert reduces and all(len(n.input) == 1 and any(a.name == "axes" for a in n.attribute) for n in reduces)


@pytest.mark.skipif(
    find_fast_python() is None, reason="FAST's environment .venv-peers is missing (make peers)"
)
def test_fast_and_rtecho_side_by_side(tmp_path, capsys):
    out = tmp_path / "peers.json"
    rc = main(["peers", "--rounds", "1", "--frames", "30", "--warmup", "2", "--json", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    doc = json.loads(out.read_text())
    names = [r["name"] for r in doc["rows"]]
    assert names[0] == "rtecho onnxruntime/fp32" and "FAST 4.18.0 ONNXRuntime" in names
    assert "p50 x rtecho" in text
    rtecho_labels = doc["rows"][0]["labels"]
    for row in doc["rows"][1:]:
        assert row["lockstep"]["n"] == 30 and row["streamed_fps"] > 0
        same = sum(a == b for a, b in zip(rtecho_labels, row["labels"], strict=True))
        assert same >= 24, f"{row['name']} agrees with rtecho on {same}/30 frames: not the same model/input?"
