"""``rtecho ef`` end to end on a beating-ellipse cine with a thresholding test segmenter, and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rtecho.cli import main
from tests.cardiac.helpers import build_threshold_segmenter, ellipse_clip

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pydicom = pytest.importorskip("pydicom")


@pytest.fixture(scope="module")
def seg(tmp_path_factory):
    return build_threshold_segmenter(tmp_path_factory.mktemp("seg") / "lvseg_test.onnx")


def _ef(src, seg, *extra: str) -> int:
    return main(["ef", str(src), "--model", str(seg), *extra])


def _dcm(path, frames, fps=30.0):
    from rtecho.synth.export import write_dicom

    write_dicom(path, frames, fps, "A4C")
    return path


def test_ef_on_a_dicom_cine(tmp_path, seg, capsys):
    frames, ef_true, ed_times = ellipse_clip(n=150, fps=30.0, hr=72.0, ef=55.0)
    src = _dcm(tmp_path / "clip.dcm", frames)
    out = tmp_path / "ef.json"
    rc = main(
        [
            "ef", str(src), "--model", str(seg), "--view", "A4C", "--json", str(out),
            "--plot", str(tmp_path / "ef.png"), "--masks", str(tmp_path / "m.npz"), "--out", str(tmp_path / "a.mp4"),
            "--sheet", str(tmp_path / "sheet.png"),
        ]
    )  # fmt: skip
    assert rc == 0
    text = capsys.readouterr().out
    assert "clip EF" in text and "EF(MOD)" in text
    res = json.loads(out.read_text())
    beats = res["beats"]
    assert len(beats) >= 4
    ed_frames = np.round(ed_times * 30.0)
    for b in beats:
        assert np.min(np.abs(ed_frames - b["ed_index"])) <= 2
        assert b["ef"] == pytest.approx(ef_true, abs=3.0) and b["quality"] == []
        for key in ("es_index", "eda", "esa", "edv_area_length", "esv_area_length", "edv_disc", "esv_disc"):
            assert b[key] is not None
    assert res["clip"]["ef"] == pytest.approx(ef_true, abs=2.0)
    assert res["clip"]["heart_rate"] == pytest.approx(72.0, rel=0.05)
    m = np.load(tmp_path / "m.npz")
    assert m["masks"].dtype == np.uint8 and m["masks"].shape == frames.shape
    assert list(m["frames"]) == list(range(150)) and set(np.unique(m["masks"])) == {0, 1}
    dark = frames == 20
    inter = (m["masks"].astype(bool) & dark).sum() / dark.sum()
    assert inter > 0.95  # the mask maps back onto the source frame's pixels
    assert (tmp_path / "ef.png").stat().st_size > 10_000 and (tmp_path / "a.mp4").stat().st_size > 1000
    from matplotlib.image import imread

    sheet = imread(tmp_path / "sheet.png")
    assert sheet.shape[0] >= 240 * 5  # five beats, a row (ED, ES) each


def test_ef_on_an_avi_without_csv(tmp_path, seg):
    pytest.importorskip("av")
    from rtecho.synth.export import write_video

    frames, ef_true, _ = ellipse_clip(n=120, fps=25.0, hr=90.0, ef=40.0, size_hw=(112, 112))
    write_video(tmp_path / "clip.avi", frames, 25.0)
    out = tmp_path / "ef.json"
    assert _ef(tmp_path / "clip.avi", seg, "--view", "A4C", "--json", str(out)) == 0
    res = json.loads(out.read_text())
    assert len(res["beats"]) >= 3 and res["clip"]["ef"] == pytest.approx(ef_true, abs=4.0)


def test_shorter_than_a_beat_says_so_and_gives_no_ef(tmp_path, seg, capsys):
    frames, _, _ = ellipse_clip(n=12, fps=30.0, hr=60.0)
    out = tmp_path / "ef.json"
    assert _ef(_dcm(tmp_path / "s.dcm", frames), seg, "--view", "A4C", "--json", str(out)) == 0
    err = capsys.readouterr().err
    assert "no complete beat" in err
    res = json.loads(out.read_text())
    assert res["beats"] == [] and res["clip"]["ef"] is None


def test_no_lv_found(tmp_path, seg, capsys):
    frames = np.full((40, 96, 96), 200, np.uint8)
    out = tmp_path / "ef.json"
    assert _ef(_dcm(tmp_path / "b.dcm", frames), seg, "--view", "A4C", "--json", str(out)) == 0
    assert "no LV found" in capsys.readouterr().err
    assert json.loads(out.read_text())["clip"]["ef"] is None


def test_non_apical_view_gives_no_ef(tmp_path, seg, capsys):
    frames, _, _ = ellipse_clip(n=120, fps=30.0)
    out = tmp_path / "ef.json"
    assert _ef(_dcm(tmp_path / "p.dcm", frames), seg, "--view", "PLAX", "--json", str(out)) == 0
    assert "not an apical view" in capsys.readouterr().err
    res = json.loads(out.read_text())
    assert res["beats"] == [] and res["clip"]["ef"] is None


def test_a_jumping_mask_flags_its_beat(tmp_path, seg):
    frames, _, _ = ellipse_clip(n=150, fps=30.0, hr=72.0)
    frames[30] = np.roll(frames[30], 40, axis=1)  # one frame's LV 40 px to the side (systole of beat 1)
    out = tmp_path / "ef.json"
    assert _ef(_dcm(tmp_path / "j.dcm", frames), seg, "--view", "A4C", "--json", str(out)) == 0
    beats = json.loads(out.read_text())["beats"]
    hit = [b for b in beats if b["ed_index"] <= 30 <= b["es_index"]]
    assert hit and "mask_jump" in hit[0]["quality"]
    assert all(b["quality"] == [] for b in beats if b not in hit)


def test_a_classifier_model_is_refused(tmp_path):
    from rtecho.runtime.tiny import build_tiny_classifier

    clf = build_tiny_classifier(tmp_path / "tiny.onnx", size_hw=(64, 64))
    frames, _, _ = ellipse_clip(n=20)
    assert main(["ef", str(_dcm(tmp_path / "c.dcm", frames)), "--model", str(clf), "--view", "A4C"]) == 1
