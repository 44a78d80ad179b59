"""The demo's pieces without a server: upload checks, live readout, model card, plots, CLI options."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np
import pytest

from rtecho.demo.engines import DISCLAIMER, EngineCache, card_for, card_markdown, model_choices
from rtecho.demo.files import UploadError, check_upload, process_file
from rtecho.demo.live import LiveStats, live_step
from rtecho.demo.options import add_arguments
from rtecho.demo.plots import view_changes
from rtecho.errors import RtechoError
from rtecho.types import Prediction
from rtecho.viz import default_overlay
from tests.fixtures import make_video


@pytest.fixture(scope="module")
def cache():
    c = EngineCache()
    yield c
    c.close()


def test_importing_the_demo_loads_no_heavy_module():
    heavy = ("gradio", "matplotlib", "torch", "onnxruntime", "openvino", "av", "cv2", "pydicom")
    code = (
        "import sys, rtecho.demo, rtecho.demo.app, rtecho.demo.files, rtecho.commands.demo; "
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_options_bind_localhost_by_default():
    p = argparse.ArgumentParser()
    add_arguments(p)
    args = p.parse_args([])
    assert (args.host, args.port, args.share, args.max_upload_mb) == ("127.0.0.1", 7860, "never", 200.0)
    assert args.webcam_fps == 20.0
    with pytest.raises(SystemExit):
        p.parse_args(["--share", "public"])
    with pytest.raises(SystemExit):
        p.parse_args(["--max-upload-mb", "0"])


def test_model_choices_list_the_tiny_model_as_untrained():
    choices = dict((v, label) for label, v in model_choices())
    assert "tiny-untrained" in choices and "untrained" in choices["tiny-untrained"]


def test_card_markdown_says_untrained_and_not_for_clinical_use(cache):
    card = card_for("tiny-untrained")
    text = card_markdown(card, backend="onnxruntime")
    assert DISCLAIMER in text and "UNTRAINED" in text and "no frames yet" in text
    assert all(f"`{label}`" in text for label in card.labels)
    rec = cache.recorder("tiny-untrained")
    rec.add(cache.processor("tiny-untrained").process(np.zeros((64, 64), np.uint8)))
    assert "| end_to_end | " in card_markdown(card, live_latency=rec)


@pytest.mark.parametrize(
    "name,data,message",
    [
        ("empty.mp4", b"", "is empty"),
        ("notes.txt", b"hello", "not a video or DICOM"),
        (None, None, "no file"),
    ],
)
def test_check_upload_rejects_bad_uploads(tmp_path, name, data, message):
    path = None
    if name is not None:
        path = tmp_path / name
        path.write_bytes(data)
    with pytest.raises(UploadError, match=message):
        check_upload(path)


def test_process_file_rejects_a_file_that_is_not_a_video(tmp_path, cache):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all " * 50)
    with pytest.raises(UploadError, match="junk.mp4") as info:
        process_file(junk, cache.engine("tiny-untrained"), tmp_path / "out")
    assert str(tmp_path) not in str(info.value)  # server paths are not shown to the user


def test_process_file_writes_every_output(tmp_path, cache):
    clip = make_video(tmp_path / "clip.mp4", "h264", n=12)
    result = process_file(clip, cache.engine("tiny-untrained"), tmp_path / "out")
    rows = [json.loads(line) for line in result.jsonl.read_text().splitlines()]
    assert [r["frame"] for r in rows] == list(range(12))
    assert result.summary.processed == 12 and not result.warnings
    for png in (result.timeline, result.histogram):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert cache.engine("tiny-untrained").is_open  # the cached engine stays open after a file run


def test_live_step_annotates_and_measures(cache):
    stats = LiveStats()
    proc = cache.processor("tiny-untrained")
    image = np.full((96, 128, 3), 40, np.uint8)
    out, pred = live_step(image, proc, default_overlay(), stats)
    assert pred is not None and pred.ok
    assert out.shape == image.shape and not np.array_equal(out, image)
    assert stats.fps is None and "frame 1" in stats.readout(pred, "m", "b")
    stats = LiveStats()
    for t in (10.0, 10.05, 10.10, 10.15):
        stats.arrive(t)
    assert stats.fps == pytest.approx(20.0)
    stats.arrive(20.0)  # a pause restarts the window
    assert stats.fps is None
    assert live_step(None, proc, default_overlay(), stats) == (None, None)


def test_live_step_bad_frame_gives_an_error_readout(cache):
    stats = LiveStats()
    out, pred = live_step(
        np.zeros((0, 4), np.uint8), cache.processor("tiny-untrained"), default_overlay(), stats
    )
    assert pred is not None and not pred.ok and stats.errors == 1
    assert "error:" in stats.readout(pred, "m", "b")


def test_cache_loads_each_engine_once_and_reports_bad_models(cache):
    assert cache.processor("tiny-untrained") is cache.processor("tiny-untrained", "onnxruntime")
    with pytest.raises(RtechoError, match="not found"):
        cache.processor("no-such-model")


def _pred(i: int, label: str) -> Prediction:
    labels = ("A2C", "A4C")
    idx = labels.index(label)
    probs = np.array([0.9, 0.1] if idx == 0 else [0.1, 0.9], np.float32)
    return Prediction(i, i / 30, label, idx, probs, labels, {}, smoothed_label=label)


def test_view_changes_marks_label_switches():
    preds = [_pred(i, lab) for i, lab in enumerate(["A2C", "A2C", "A4C", "A4C", "A2C"])]
    assert view_changes(preds) == [2, 4]


def test_unsupported_codec_gives_a_clear_error(tmp_path, cache):
    avi = make_video(tmp_path / "clip.avi", "mjpeg", n=5)
    unknown = tmp_path / "unknown_codec.avi"
    unknown.write_bytes(avi.read_bytes().replace(b"MJPG", b"QQQQ"))  # a fourcc no decoder knows
    with pytest.raises(UploadError, match="unknown_codec.avi"):
        process_file(unknown, cache.engine("tiny-untrained"), tmp_path / "out")
