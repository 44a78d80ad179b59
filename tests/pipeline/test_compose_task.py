"""build_pipeline takes a view classifier as its main engine: an LV segmenter given there (``rtecho run
SRC --model engines/lvseg_aspp.onnx``) is a clear one-line error that says where it belongs."""

from __future__ import annotations

import pytest

from rtecho.cli import main
from rtecho.errors import EngineError
from rtecho.pipeline import build_pipeline
from rtecho.pipeline.cardiac import default_segmenter_path
from rtecho.runtime import load_engine


def test_segmenter_as_classifier_is_named():
    seg = load_engine(default_segmenter_path())
    assert seg.card.task == "segmentation"
    with pytest.raises(
        EngineError, match=r"is an LV segmenter \(task segmentation\): pass it as --segmenter with --ef"
    ):
        build_pipeline(seg)
    with pytest.raises(EngineError, match="LV segmenter"):
        build_pipeline(seg, ultrasound=True, ef=True)


def test_classifier_still_builds():
    assert "classify" in build_pipeline(load_engine("tiny-untrained")).describe()


def test_rtecho_run_with_a_segmenter_as_model(capsys):
    from rtecho.bench.clips import SAMPLE_CLIP

    path = default_segmenter_path()
    rc = main(["run", str(SAMPLE_CLIP), "--model", path, "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0
    assert err[-1].endswith("is an LV segmenter (task segmentation): pass it as --segmenter with --ef"), err
    assert len([line for line in err if "LV segmenter" in line]) == 1
    assert "Traceback" not in "\n".join(err)
