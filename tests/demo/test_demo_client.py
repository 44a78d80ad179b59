"""The File path through gradio_client against a launched app: A4C DICOM cine in, video and plots out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("gradio_client", reason="needs gradio_client (pip install 'rtecho[demo]')")
av = pytest.importorskip("av")
examples = pytest.importorskip("pydicom.examples")

from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

# gradio's own queue uses pandas options that pandas 3 deprecates; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:::gradio.queueing")


@pytest.fixture(scope="module")
def client(demo_url: str) -> Client:
    return Client(demo_url, verbose=False)


def _decode(path: str) -> tuple[str, int, tuple[int, int]]:
    with av.open(path) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        return stream.codec_context.name, len(frames), frames[0].shape[:2]


def test_a4c_dicom_gives_annotated_video_plot_and_log(client: Client):
    video, timeline, histogram, jsonl, summary = client.predict(
        handle_file(examples.get_path("ybr_color")), "tiny-untrained", "onnxruntime", api_name="/process_file"
    )
    video = video["video"] if isinstance(video, dict) else video
    codec, n, size_hw = _decode(video)
    assert (codec, n) == ("h264", 30)  # H.264 so that browsers play it
    assert size_hw == (240, 320)
    for png in (timeline, histogram):
        assert Path(png).is_file() and Path(png).read_bytes()[:4] == b"\x89PNG"
    rows = [json.loads(line) for line in Path(jsonl).read_text().splitlines()]
    assert [r["frame"] for r in rows] == list(range(30)) and rows[0]["model"] == "tiny-untrained"
    assert "frames read 30, processed 30" in summary and "UNTRAINED" in summary


@pytest.mark.parametrize(
    "name,data,message",
    [
        ("empty.mp4", b"", "is empty"),
        ("junk.mp4", b"this is not a video " * 40, "cannot open video junk.mp4"),
        ("notes.txt", b"hello", "Invalid file type"),
    ],
)
def test_bad_uploads_give_a_clear_error(client: Client, tmp_path: Path, name: str, data: bytes, message: str):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(AppError, match=message):
        client.predict(handle_file(str(path)), "tiny-untrained", "onnxruntime", api_name="/process_file")


def test_no_upload_gives_a_clear_error(client: Client):
    with pytest.raises(AppError, match="no file uploaded"):
        client.predict(None, "tiny-untrained", "onnxruntime", api_name="/process_file")


def test_upload_over_the_size_limit_is_refused(client: Client, tmp_path: Path):
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * (21 * 1_000_000))  # the session app allows 20 MB
    with pytest.raises((AppError, ValueError), match="exceeds the maximum file size of 20000000 bytes"):
        client.predict(handle_file(str(big)), "tiny-untrained", "onnxruntime", api_name="/process_file")
