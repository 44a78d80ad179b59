"""OpenIGTLink in and out, against pyigtl (an independent implementation) and real sockets on 127.0.0.1.

Servers are pyigtl's OpenIGTLinkServer in a subprocess (tests/io/igtl_server.py) so that a test can
kill one mid-stream; every wait is bounded (source timeouts, select timeouts, process deadlines).
"""

from __future__ import annotations

import json
import select
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from rtecho.errors import SourceError
from rtecho.io import open_source
from rtecho.io.igtl import IgtlSource, parse_igtl
from rtecho.io.igtl_codec import (
    HEADER_SIZE,
    IgtlMessageError,
    crc64,
    decode_image,
    pack_string,
    parse_header,
)
from rtecho.pipeline import StreamProcessor
from rtecho.runtime import load_engine
from rtecho.types import Prediction, ViewChange
from rtecho.viz import CallbackSink, IgtlSink
from tests.fixtures import free_port, pattern_frame, square_x

pyigtl = pytest.importorskip("pyigtl", reason="needs pyigtl (pip install 'rtecho[igtl]')")
SERVER = Path(__file__).with_name("igtl_server.py")
T0 = 1_700_000_000.0  # the test server's first timestamp


@pytest.fixture
def servers():
    """Start test servers: ``start(port, *args)``; every one is killed at the end."""
    procs: list[subprocess.Popen] = []

    def start(port: int, *args: str) -> subprocess.Popen:
        cmd = [sys.executable, str(SERVER), "--port", str(port), *args]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready and proc.stdout.readline().strip() == "ready", "test server did not start"
        return proc

    yield start
    for proc in procs:
        proc.kill()
        proc.wait(10)


def frame_tag(image: np.ndarray, size_hw=(48, 64)) -> int:
    """Which pattern frame (mod the pattern's period) an image is, from its bright square."""
    x = square_x(image)
    return next(i for i in range(24) if square_x(pattern_frame(i, size_hw)) == x)


# -- the codec against pyigtl ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "shape, dtype, version",
    [
        ((1, 6, 8), np.uint8, 1),
        ((1, 6, 8, 3), np.uint8, 1),
        ((1, 6, 8, 4), np.uint8, 2),
        ((1, 6, 8), np.uint16, 2),
    ],
)
def test_decode_image_matches_pyigtl_encoding(shape, dtype, version):
    rng = np.random.default_rng(0)
    voxels = rng.integers(0, np.iinfo(dtype).max, shape, dtype=dtype)
    msg = pyigtl.ImageMessage(voxels, ijk_to_world_matrix=np.diag([0.2, 0.3, 1, 1]), timestamp=T0 + 0.25)
    msg.device_name = "Image_Reference"
    msg.header_version = version
    if version > 1:
        msg.metadata = {"probe": "C5-2"}
    raw = msg.pack()
    head = parse_header(raw[:HEADER_SIZE])
    assert (head.type, head.device, head.version) == ("IMAGE", "Image_Reference", version)
    assert head.timestamp == pytest.approx(T0 + 0.25, abs=1e-6)
    assert head.crc == crc64(raw[HEADER_SIZE:])  # our CRC-64 agrees with pyigtl's (crcmod)
    img = decode_image(head, raw[HEADER_SIZE:])
    want = voxels[0] if dtype == np.uint8 else (voxels[0] >> 8).astype(np.uint8)
    assert np.array_equal(img.pixels, want[..., :3] if want.ndim == 3 else want)
    assert img.spacing_mm == pytest.approx((0.3, 0.2))


def test_strings_we_pack_are_read_by_pyigtl():
    raw = pack_string("rtecho_view", "A4C Ü", timestamp=T0 + 0.5)
    fields = pyigtl.MessageBase.parse_header(raw[:HEADER_SIZE])
    msg = pyigtl.MessageBase.create_message(fields["message_type"])
    msg.unpack(fields, raw[HEADER_SIZE:])
    assert (msg.device_name, msg.string) == ("rtecho_view", "A4C Ü")
    assert msg.timestamp == pytest.approx(T0 + 0.5, abs=1e-6)
    assert pyigtl.messages.CRC64(raw[HEADER_SIZE:]) == parse_header(raw[:HEADER_SIZE]).crc


def test_malformed_messages_give_one_line_errors():
    good = pyigtl.ImageMessage(np.zeros((1, 4, 4), np.uint8), device_name="x").pack()
    head = parse_header(good[:HEADER_SIZE])
    with pytest.raises(IgtlMessageError, match="bytes of pixels"):
        decode_image(head, good[HEADER_SIZE:-3])
    with pytest.raises(IgtlMessageError, match="scalar type int16"):
        bad = pyigtl.ImageMessage(np.zeros((1, 4, 4), np.int16), device_name="x").pack()
        decode_image(parse_header(bad[:HEADER_SIZE]), bad[HEADER_SIZE:])
    with pytest.raises(IgtlMessageError, match="not a 2-D frame"):
        vol = pyigtl.ImageMessage(np.zeros((2, 4, 4), np.uint8), device_name="x").pack()
        decode_image(parse_header(vol[:HEADER_SIZE]), vol[HEADER_SIZE:])
    with pytest.raises(IgtlMessageError, match="header version"):
        parse_header(b"GET / HTTP/1.1\r\n".ljust(HEADER_SIZE, b" "))


def test_uri_options_and_a_missing_server():
    assert parse_igtl("igtl://localhost/US?retry=inf&bits=12") == {
        "host": "localhost",
        "port": 18944,
        "device": "US",
        "retry": float("inf"),
        "bits": 12,
    }
    with pytest.raises(SourceError, match="unknown option 'speed'"):
        parse_igtl("igtl://127.0.0.1:1/x?speed=2")
    with pytest.raises(SourceError, match="cannot connect to OpenIGTLink server"):
        open_source(f"igtl://127.0.0.1:{free_port()}")


# -- live streams ------------------------------------------------------------------------------------
def test_60_frames_at_30_fps_arrive_and_are_classified_in_order(servers):
    port = free_port()
    servers(port, "--n", "60", "--fps", "30")
    tags: list[int] = []
    sink = CallbackSink(lambda frame, pred, image: tags.append(frame_tag(frame.image)))
    with open_source(f"igtl://127.0.0.1:{port}/Image_Reference?n=60&timeout=5&retry=5") as src:
        assert src.info.live and src.info.kind == "igtl"
        with StreamProcessor(load_engine("tiny-untrained"), policy="block", sinks=[sink]) as proc:
            preds = list(proc.stream(src))
        assert src.info.pixel_spacing_mm == pytest.approx((0.3, 0.2))
        assert src.info.size_hw == (48, 64)
        assert src.stats()["frames"] == 60 and src.stats()["malformed"] == 0
    assert [p.frame_index for p in preds] == list(range(60))
    assert all(p.ok and p.label for p in preds)
    assert [p.timestamp for p in preds] == pytest.approx([T0 + i / 30 for i in range(60)], abs=1e-5)
    assert tags == [frame_tag(pattern_frame(i, (48, 64))) for i in range(60)]
    assert proc.summary.processed == 60 and proc.summary.accounted


def test_killed_server_restarted_gap_reported_and_stream_resumes(servers):
    port = free_port()
    first = servers(port, "--n", "30", "--fps", "30")
    src = IgtlSource("127.0.0.1", port, "Image_Reference", timeout=5, retry=10)
    stamps: list[float] = []
    with src:
        for frame in src:
            stamps.append(frame.timestamp)
            if len(stamps) == 15:
                first.kill()  # mid-stream: the connection drops with frames still to come
                first.wait(10)
                servers(port, "--n", "20", "--start", "45", "--fps", "30")
            if frame.timestamp >= T0 + 64 / 30 - 1e-6:
                break
        stats = src.stats()
    assert stats["disconnects"] == 1 and stats["reconnects"] == 1
    sent = [round((t - T0) * 30) for t in stamps]
    assert sent == sorted(sent) and sent[-1] == 64 and 45 in sent  # resumed on the new server's frames
    resumed = sent.index(45)
    assert sent[:resumed] == list(range(resumed))  # before the kill: no frame lost or reordered
    (gap,) = stats["gaps"]
    assert gap["reason"] == "server closed the connection"
    assert gap["resumed_frame"] == resumed
    assert gap["gap_s"] == pytest.approx((45 - sent[resumed - 1]) / 30, abs=1e-5)
    assert "gaps (s)" in src.report()


def test_stalled_server_is_detected_by_timeout_without_spinning():
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    held: list[socket.socket] = []

    def serve():  # accept once, send 5 frames, then hold the connection silent; refuse others
        conn, _ = listener.accept()
        listener.close()
        held.append(conn)
        for i in range(5):
            img = pattern_frame(i, (48, 64), gray=True)[np.newaxis]
            conn.sendall(pyigtl.ImageMessage(img, timestamp=T0 + i / 30, device_name="US").pack())

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    src = IgtlSource("127.0.0.1", port, timeout=0.5, retry=1.0)
    frames = []
    wall0, cpu0 = time.monotonic(), time.process_time()
    with src, pytest.raises(SourceError, match="server gone for 1 s .*stalled: no data for 0.5 s"):
        for frame in src:
            frames.append(frame)
    wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
    t.join(5)
    for conn in held:
        conn.close()
    assert len(frames) == 5 and frames[0].image.ndim == 2
    assert src.stats()["stalls"] == 1 and src.stats()["reconnects"] == 0
    assert cpu < 0.5 * wall, f"the source used {cpu:.2f} s of CPU in {wall:.2f} s: a busy loop"


def test_malformed_message_is_counted_and_the_stream_goes_on(servers):
    port = free_port()
    servers(port, "--n", "20", "--fps", "60", "--malformed", "10", "--gray", "--uint16")
    with IgtlSource("127.0.0.1", port, "Image_Reference", timeout=5, retry=5, n_frames=19) as src:
        frames = list(src)
        stats = src.stats()
    sent = [round((f.timestamp - T0) * 30 * 2) for f in frames]
    assert sent == [i for i in range(20) if i != 10]
    assert stats["malformed"] == 1 and stats["skipped"] == 1 and stats["messages"] == 21
    assert "bytes of pixels" in stats["last_error"]
    assert np.array_equal(frames[0].image, pattern_frame(0, (48, 64), gray=True))  # uint16 >> 8


# -- results out ---------------------------------------------------------------------------------------
def read_messages(sock: socket.socket, deadline: float) -> list:
    """Every message until EOF, parsed by pyigtl (an independent decoder); CRC checked."""
    data, out = b"", []
    sock.settimeout(0.5)
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        if not chunk:
            break
        data += chunk
        while len(data) >= HEADER_SIZE:
            fields = pyigtl.MessageBase.parse_header(data[:HEADER_SIZE])
            end = HEADER_SIZE + fields["body_size"]
            if len(data) < end:
                break
            body = data[HEADER_SIZE:end]
            assert pyigtl.messages.CRC64(body) == parse_header(data[:HEADER_SIZE]).crc
            msg = pyigtl.MessageBase.create_message(fields["message_type"])
            msg.unpack(fields, body)
            out.append(msg)
            data = data[end:]
    return out


def connect_retrying(port: int, deadline: float) -> socket.socket:
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=1)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def test_sink_sends_view_confidence_mode_and_changes():
    labels = ("A2C", "A4C")
    change = ViewChange("A2C", "A4C", 7, 0.25)
    preds = [
        Prediction(6, 0.2, "A2C", 0, np.array([0.9, 0.1]), labels, {"end_to_end": 3.0}, smoothed_label="A2C"),
        Prediction(
            7, 0.25, "A4C", 1, np.array([0.2, 0.8]), labels, {}, smoothed_label="A4C", view_change=change
        ),
        Prediction(8, 0.3, "A4C", 1, np.array([0.45, 0.55]), labels, {}, accepted=False),
        Prediction(9, 0.35, None, None, None, labels, {}, mode="mmode"),
    ]
    with IgtlSink("127.0.0.1", 0) as sink:
        client = connect_retrying(sink.address[1], time.monotonic() + 5)
        deadline = time.monotonic() + 5
        while sink.n_clients == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        for p in preds:
            sink.write(None, p)
    msgs = read_messages(client, time.monotonic() + 10)
    client.close()
    texts = [(m.device_name, m.string) for m in msgs]
    views = [s for d, s in texts if d == "rtecho_view"]
    assert views == ["A2C", "A4C", "unknown", "none"]
    assert [s for d, s in texts if d == "rtecho_change"] == ["A2C -> A4C"]
    assert [s for d, s in texts if d == "rtecho_confidence"] == ["0.900", "0.800", "0.550", "0.000"]
    assert [s for d, s in texts if d == "rtecho_mode"] == ["bmode", "bmode", "bmode", "mmode"]
    results = [json.loads(s) for d, s in texts if d == "rtecho_result"]
    assert [r["frame"] for r in results] == [6, 7, 8, 9] and results[0]["end_to_end_ms"] == 3.0
    assert [m.timestamp for m in msgs if m.device_name == "rtecho_view"] == pytest.approx(
        [0.2, 0.25, 0.3, 0.35]
    )


def test_rtecho_run_igtl_in_and_results_out(servers, tmp_path):
    from rtecho.cli import main

    port, out_port = free_port(), free_port()
    servers(port, "--n", "30", "--fps", "30", "--delay", "1.5")
    summary = tmp_path / "summary.json"
    argv = [
        "run",
        f"igtl://127.0.0.1:{port}/Image_Reference?n=30&timeout=5&retry=5",
        "--model",
        "tiny-untrained",
    ]
    argv += ["--igtl-out", f"127.0.0.1:{out_port}", "--summary-json", str(summary), "--no-progress"]
    rc: list[int] = []
    runner = threading.Thread(target=lambda: rc.append(main(argv)), daemon=True)
    runner.start()
    client = connect_retrying(out_port, time.monotonic() + 60)
    msgs = read_messages(client, time.monotonic() + 60)
    client.close()
    runner.join(30)
    assert rc == [0]
    report = json.loads(summary.read_text())
    assert report["frames_read"] == 30 and report["processed"] + report["dropped"] == 30  # latest policy
    assert report["source"]["frames"] == 30 and report["source"]["malformed"] == 0
    results = [json.loads(m.string) for m in msgs if m.device_name == "rtecho_result"]
    assert len(results) == report["processed"] > 0
    frames = [r["frame"] for r in results]
    assert frames == sorted(frames) and len(set(frames)) == len(frames)
    assert {m.device_name for m in msgs} >= {"rtecho_view", "rtecho_confidence", "rtecho_mode"}
    assert results[0]["timestamp"] == pytest.approx(T0 + frames[0] / 30, abs=1e-5)  # the sender's clock
