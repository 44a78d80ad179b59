"""Sinks: the MP4 decodes back with every frame, the JSONL log has one valid line per result."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest

from rtecho.types import Frame
from rtecho.viz import CallbackSink, JsonlSink, MultiSink, Sink, SinkError, VideoSink, default_overlay
from rtecho.viz.sinks import fit_to, pick_encoder

needs_av = pytest.mark.skipif(
    importlib.util.find_spec("av") is None, reason='needs PyAV (pip install "rtecho[video]")'
)

SHA = "ab" * 32


def frames(n: int, size_hw=(48, 64), rgb: bool = False, start: int = 0, step: int = 1):
    rng = np.random.default_rng(1)
    for i in range(n):
        shape = (*size_hw, 3) if rgb else size_hw
        yield Frame(rng.integers(0, 255, shape, dtype=np.uint8), index=start + i * step, timestamp=i / 30)


def decode(path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def decode_pts(path) -> list[int]:
    import av

    with av.open(str(path)) as c:
        return [f.pts for f in c.decode(video=0)]


@needs_av
@pytest.mark.parametrize("codec", ["h264", "mpeg4"])
def test_video_round_trip(tmp_path, make_pred, codec):
    path = tmp_path / f"{codec}.mp4"
    with VideoSink(path, fps=30, codec=codec) as sink:
        for f in frames(12):
            sink.write(f, make_pred(f.index))
    assert sink.closed and sink.n_written == 12
    out = decode(path)
    assert len(out) == 12
    assert out[0].shape == (48, 64, 3)


@needs_av
@pytest.mark.parametrize("size_hw", [(47, 63), (48, 63), (31, 32), (1, 1)])
def test_odd_sizes_are_padded_to_even(tmp_path, make_pred, size_hw):
    path = tmp_path / "odd.mp4"
    with VideoSink(path, fps=25) as sink:
        for f in frames(5, size_hw):
            sink.write(f, make_pred(f.index))
    out = decode(path)
    assert len(out) == 5
    assert out[0].shape[:2] == (size_hw[0] + size_hw[0] % 2, size_hw[1] + size_hw[1] % 2)


@needs_av
def test_colours_survive(tmp_path, make_pred):
    path = tmp_path / "red.mp4"
    red = np.zeros((64, 64, 3), np.uint8)
    red[..., 0] = 220
    with VideoSink(path, fps=10) as sink:
        for i in range(3):
            sink.write(Frame(red, index=i, timestamp=i / 10), make_pred(i))
    got = decode(path)[1].astype(int).mean(axis=(0, 1))
    assert got[0] > 180 and got[1] < 50 and got[2] < 50


@needs_av
def test_size_changes_are_letterboxed(tmp_path, make_pred):
    path = tmp_path / "mixed.mp4"
    with VideoSink(path, fps=30) as sink:
        for f in frames(3, (48, 64)):
            sink.write(f, make_pred(f.index))
        for f in frames(3, (100, 50), rgb=True, start=3):
            sink.write(f, make_pred(f.index))
        sink.write(next(frames(1, (47, 63), start=6)), make_pred(6))
    out = decode(path)
    assert len(out) == 7
    assert {o.shape for o in out} == {(48, 64, 3)}


@needs_av
def test_annotator_and_explicit_image(tmp_path, make_pred):
    black = Frame(np.zeros((120, 160), np.uint8), index=0, timestamp=0.0)
    plain, drawn = tmp_path / "plain.mp4", tmp_path / "drawn.mp4"
    with VideoSink(plain, fps=30) as a, VideoSink(drawn, fps=30, annotator=default_overlay()) as b:
        a.write(black, make_pred())
        b.write(black, make_pred())
    assert decode(plain)[0].mean() < 5
    assert decode(drawn)[0].mean() > decode(plain)[0].mean() + 1
    explicit = tmp_path / "explicit.mp4"
    white = np.full((120, 160, 3), 255, np.uint8)
    with VideoSink(explicit, fps=30, annotator=default_overlay()) as c:
        c.write(black, make_pred(), image=white)
    assert decode(explicit)[0].mean() > 240


@needs_av
def test_pts_follow_frame_index(tmp_path, make_pred):
    path = tmp_path / "gaps.mp4"
    with VideoSink(path, fps=30) as sink:
        for idx in (10, 11, 13, 16, 16):  # a gap and a repeated index
            sink.write(Frame(np.zeros((32, 32), np.uint8), index=idx, timestamp=0.0), make_pred(idx))
    pts = decode_pts(path)
    assert len(pts) == 5
    assert pts == sorted(pts) and len(set(pts)) == 5
    steps = np.diff(pts)
    assert steps[1] == 2 * steps[0] and steps[2] == 3 * steps[0]


@needs_av
def test_video_sink_closes_on_exception(tmp_path, make_pred):
    path = tmp_path / "boom.mp4"
    with pytest.raises(RuntimeError, match="boom"), VideoSink(path, fps=30) as sink:
        for f in frames(4):
            sink.write(f, make_pred(f.index))
        raise RuntimeError("boom")
    assert sink.closed
    assert len(decode(path)) == 4
    with pytest.raises(SinkError, match="closed"):
        sink.write(next(frames(1)), make_pred())
    sink.close()  # idempotent


@needs_av
def test_video_sink_errors(tmp_path):
    with pytest.raises(SinkError, match="fps"):
        VideoSink(tmp_path / "a.mp4", fps=0)
    with pytest.raises(SinkError, match="fps"):
        VideoSink(tmp_path / "a.mp4", fps=float("nan"))
    with pytest.raises(SinkError, match="codec"):
        VideoSink(tmp_path / "a.mp4", fps=30, codec="vp9000")
    with pytest.raises(SinkError, match="does not exist"):
        VideoSink(tmp_path / "missing" / "a.mp4", fps=30)
    empty = VideoSink(tmp_path / "empty.mp4", fps=30)
    empty.close()  # nothing written: no file, no error
    assert not (tmp_path / "empty.mp4").exists()


def test_pick_encoder():
    assert pick_encoder("h264", {"libx264", "mpeg4"}) == "libx264"
    assert pick_encoder("h264", {"h264", "mpeg4"}) == "mpeg4"
    assert pick_encoder("mpeg4", {"libx264", "mpeg4"}) == "mpeg4"
    with pytest.raises(SinkError):
        pick_encoder("h264", set())


def test_fit_to_letterboxes():
    img = np.full((10, 40, 3), 200, np.uint8)
    out = fit_to(img, (20, 20))
    assert out.shape == (20, 20, 3)
    rows = np.nonzero(out[:, 10, 0])[0]
    assert rows.tolist() == [7, 8, 9, 10, 11]  # 40x10 halved to 20x5, centred vertically
    assert fit_to(img, (10, 40)) is img


def read_jsonl(path) -> list[dict]:
    lines = path.read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_jsonl_one_line_per_result_including_errors(tmp_path, make_pred, make_err):
    path = tmp_path / "log.jsonl"
    fs = list(frames(5))
    with JsonlSink(path, model_name="darts2_c16.echo14", onnx_sha256=SHA, backend="openvino") as sink:
        for f in fs[:3]:
            sink.write(f, make_pred(f.index))
        sink.write(fs[3], make_err(3, error="bad frame"))
        sink.write(fs[4], make_pred(4, accepted=False, timings_ms={"infer": float("nan")}))
    recs = read_jsonl(path)
    assert len(recs) == 5 == sink.n_written
    assert [r["source_frame"] for r in recs] == [0, 1, 2, 3, 4]
    assert all(r["model"] == "darts2_c16.echo14" and r["onnx_sha256"] == SHA for r in recs)
    assert all(r["backend"] == "openvino" for r in recs)
    assert recs[0]["label"] == "A4C" and recs[0]["probabilities"]["A4C"] == pytest.approx(0.82)
    assert recs[3]["error"] == "bad frame" and recs[3]["label"] is None
    assert recs[4]["accepted"] is False and recs[4]["timings_ms"]["infer"] is None  # NaN -> null
    assert "NaN" not in path.read_text()


def test_jsonl_defaults_to_prediction_identity_and_flushes(tmp_path, make_pred):
    path = tmp_path / "log.jsonl"
    sink = JsonlSink(path)
    sink.write(next(frames(1)), make_pred())
    recs = read_jsonl(path)  # readable before close: flushed per line
    assert len(recs) == 1 and recs[0]["model"] == "tiny" and recs[0]["backend"] == "onnxruntime"
    assert recs[0]["onnx_sha256"] is None
    sink.close()
    sink.close()
    with pytest.raises(SinkError, match="closed"):
        sink.write(next(frames(1)), make_pred())


def test_jsonl_closes_on_exception(tmp_path, make_pred):
    path = tmp_path / "log.jsonl"
    with pytest.raises(KeyError), JsonlSink(path, model_name="m", flush_every_line=False) as sink:
        sink.write(next(frames(1)), make_pred())
        raise KeyError("x")
    assert sink.closed and len(read_jsonl(path)) == 1


def test_jsonl_errors(tmp_path):
    with pytest.raises(SinkError, match="sha256"):
        JsonlSink(tmp_path / "a.jsonl", onnx_sha256="abc")
    with pytest.raises(SinkError, match="cannot open"):
        JsonlSink(tmp_path / "no" / "such" / "a.jsonl")


def test_callback_and_multi_sink(tmp_path, make_pred):
    got, closed = [], []
    cb = CallbackSink(
        lambda f, p, img: got.append((f.index, p.label, img is None)), on_close=lambda: closed.append(1)
    )
    log = JsonlSink(tmp_path / "m.jsonl", model_name="m")
    with MultiSink(cb, log) as multi:
        for f in frames(3):
            multi.write(f, make_pred(f.index))
    assert got == [(0, "A4C", True), (1, "A4C", True), (2, "A4C", True)]
    assert closed == [1] and cb.closed and log.closed
    assert len(read_jsonl(tmp_path / "m.jsonl")) == 3
    with pytest.raises(TypeError):
        CallbackSink("not callable")
    with pytest.raises(TypeError):
        MultiSink(cb, object())


def test_multi_sink_closes_all_when_one_fails(tmp_path):
    class Failing(Sink):
        def close(self) -> None:
            self.closed = True
            raise SinkError("disk full")

    ok = CallbackSink(lambda *a: None)
    bad = Failing()
    multi = MultiSink(bad, ok)
    with pytest.raises(SinkError, match="disk full"):
        multi.close()
    assert bad.closed and ok.closed


def test_import_viz_loads_no_heavy_modules():
    code = (
        "import sys, rtecho.viz; print(sorted(m for m in ('av', 'cv2', 'torch', 'PIL') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_video_sink_without_pyav_names_the_extra(tmp_path, monkeypatch):
    from rtecho.errors import MissingExtraError

    monkeypatch.setitem(sys.modules, "av", None)  # makes `import av` fail
    with pytest.raises(MissingExtraError, match=r"rtecho\[video\]"):
        VideoSink(tmp_path / "a.mp4", fps=30)


@needs_av
def test_results_without_a_frame(tmp_path, make_pred, make_err):
    video, log = tmp_path / "v.mp4", tmp_path / "v.jsonl"
    with VideoSink(video, fps=30) as vs, JsonlSink(log, model_name="m") as js:
        for f in frames(3):
            vs.write(f, make_pred(f.index))
            js.write(f, make_pred(f.index))
        vs.write(None, make_err(3))  # rejected on arrival: no picture to store
        js.write(None, make_err(3))
        vs.write(None, make_pred(4), image=np.zeros((48, 64, 3), np.uint8))
    assert vs.n_written == 4 and vs.n_skipped == 1
    assert len(decode(video)) == 4
    recs = read_jsonl(log)
    assert len(recs) == 4 and recs[3]["source_frame"] == 3 and recs[3]["error"]
