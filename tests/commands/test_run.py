"""`rtecho run` end to end: every kind of source in, annotated MP4 + JSONL out; bad input, clear errors."""

from __future__ import annotations

import json
import shutil

import pytest

from rtecho.cli import main
from tests import fixtures

pytest.importorskip("av")
pytest.importorskip("pydicom")


def _count_video_frames(path):
    import av

    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def _run(capsys, *argv):
    code = main(
        [
            "run",
            *map(str, argv),
            "--no-progress",
            *([] if "--model" in map(str, argv) else ["--model", "tiny-untrained"]),
        ]
    )
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    from pydicom import examples

    d = tmp_path_factory.mktemp("src")
    return {
        "dicom_a4c": examples.get_path("ybr_color"),
        "h264": fixtures.make_video(d / "clip.mp4", "h264", n=12),
        "mjpeg": fixtures.make_video(d / "clip.avi", "mjpeg", n=9),
        "gif": fixtures.make_video(d / "clip.gif", "gif", n=7),
        "pngs": fixtures.make_png_folder(d / "pngs", n=11),
    }


@pytest.mark.parametrize(
    "kind,expected", [("dicom_a4c", 30), ("h264", 12), ("mjpeg", 9), ("gif", 7), ("pngs", 11)]
)
def test_run_writes_annotated_video_and_jsonl(kind, expected, sources, tmp_path, capsys):
    out, log = tmp_path / "annotated.mp4", tmp_path / "log.jsonl"
    code, stdout, err = _run(capsys, sources[kind], "--out", out, "--jsonl", log)
    assert code == 0, err
    lines = log.read_text().splitlines()
    assert len(lines) == expected
    rows = [json.loads(line) for line in lines]
    assert [r["frame"] for r in rows] == list(range(expected))
    assert all(r["model"] == "tiny-untrained" and len(r["onnx_sha256"]) == 64 for r in rows)
    assert _count_video_frames(out) == expected
    assert "end_to_end" in stdout and f"frames read {expected}, processed {expected}" in stdout
    assert "UNTRAINED" in err


def test_run_realtime_and_summary_json(sources, tmp_path, capsys):
    summary = tmp_path / "s.json"
    code, _, err = _run(capsys, sources["gif"], "--realtime", "--summary-json", summary)
    assert code == 0, err
    s = json.loads(summary.read_text())
    assert s["frames_read"] == s["processed"] + s["dropped"] + s["errors"] == 7


def test_truncated_mp4_is_an_error_but_frames_are_kept(sources, tmp_path, capsys):
    big = fixtures.make_video(tmp_path / "big.mp4", "h264", n=40, faststart=True)
    cut = fixtures.make_truncated(big, tmp_path / "cut.mp4", 0.5)
    log = tmp_path / "log.jsonl"
    code, stdout, err = _run(capsys, cut, "--jsonl", log)
    assert code == 1
    assert "error" in err and "cut.mp4" in err
    n = len(log.read_text().splitlines())
    assert 0 < n < 40  # the frames before the cut were processed and logged


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda d: (d / "notes.mp4").write_text("this is not a video") and d / "notes.mp4", "notes.mp4"),
        (lambda d: d / "missing.avi", "missing.avi"),
    ],
)
def test_not_a_video(make, match, tmp_path, capsys):
    code, _, err = _run(capsys, make(tmp_path))
    assert code == 1
    assert match in err and err.count("\n") <= 2


def test_dicom_without_pixel_data(tmp_path, capsys):
    from pydicom import dcmread

    path = fixtures.make_dicom_cine(tmp_path / "c.dcm", n=2)
    ds = dcmread(path)
    del ds.PixelData
    ds.save_as(tmp_path / "nopix.dcm")
    code, _, err = _run(capsys, tmp_path / "nopix.dcm")
    assert code == 1 and "no pixel data" in err


def test_corrupt_or_mismatched_onnx(sources, tmp_path, capsys):
    from rtecho.runtime.tiny import build_tiny_classifier

    onnx_path = build_tiny_classifier(tmp_path / "m.onnx", name="m")
    data = onnx_path.read_bytes()
    onnx_path.write_bytes(data[:-100] + b"\0" * 100)  # same size, different bytes
    code, _, err = _run(capsys, sources["gif"], "--model", onnx_path)
    assert code == 1 and "does not match its model card" in err
    shutil.copy(onnx_path.with_suffix(".json"), tmp_path / "x.json")
    (tmp_path / "x.onnx").write_bytes(b"garbage")
    code, _, err = _run(capsys, sources["gif"], "--model", tmp_path / "x.onnx")
    assert code == 1 and "does not match" in err


def test_run_ultrasound_gates_modes_and_summarises_the_clip(tmp_path, capsys):
    # a folder of simulator screens: 16 B-mode A4C frames, then 6 spectral Doppler frames
    import numpy as np
    from PIL import Image

    from rtecho.synth import render_screen

    rng = np.random.default_rng(5)
    screens = [
        render_screen("A4C", rng, mode="bmode").image,
        render_screen("A4C", rng, mode="spectral_doppler").image,
    ]
    folder = tmp_path / "screens"
    folder.mkdir()
    for i in range(22):
        im = screens[0 if i < 16 else 1].astype(np.int16) + rng.integers(-2, 3, screens[0].shape)
        Image.fromarray(np.clip(im, 0, 255).astype(np.uint8)).save(folder / f"{i:03d}.png")
    log, summary = tmp_path / "log.jsonl", tmp_path / "s.json"
    code, stdout, err = _run(
        capsys, folder, "--model", "darts2", "--ultrasound", "--jsonl", log, "--summary-json", summary
    )
    assert code == 0, err
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["mode"] for r in rows] == ["bmode"] * 16 + ["spectral_doppler"] * 6
    assert all(r["label"] is None for r in rows[16:])  # not classified
    clip = json.loads(summary.read_text())["clip"]
    assert clip["modes"] == {"bmode": 16, "spectral_doppler": 6} and clip["n_frames"] == 22
    assert clip["label"] == "A4C" and clip["segments"][0]["label"] == "A4C"
    assert "clip: A4C" in stdout
