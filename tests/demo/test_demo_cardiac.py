"""The demo's File tab with a trained classifier: the LV contour and EF on apical frames only."""

from __future__ import annotations

import json

import pytest

from rtecho.demo.engines import cardiac_ok, demo_pipeline
from rtecho.demo.files import process_file
from rtecho.runtime import DEFAULT_MODEL, load_engine


def test_file_tab_segments_apical_frames_only(tmp_path):
    examples = pytest.importorskip("pydicom.examples")
    pytest.importorskip("av")
    engine = load_engine(DEFAULT_MODEL)
    assert cardiac_ok(engine)
    with engine:
        result = process_file(examples.get_path("ybr_color"), engine, tmp_path / "out")
    preds = result.predictions
    assert len(preds) == 30
    apical = [p for p in preds if p.ok and p.accepted and p.label in ("A4C", "A2C")]
    assert apical, [p.label for p in preds]  # the real A4C cine
    for p in preds:
        assert (p.lv is not None) == (p in apical)
    rows = [json.loads(line) for line in result.jsonl.read_text().splitlines()]
    assert sum(1 for r in rows if r.get("lv")) == len(apical)


def test_untrained_models_get_no_cardiac_stages():
    engine = load_engine("tiny-untrained")
    assert not cardiac_ok(engine) and demo_pipeline(engine) is None
