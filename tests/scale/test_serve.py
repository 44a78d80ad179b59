"""`rtecho serve` on a real local Ray instance, reached through the `serve` engine backend."""

from __future__ import annotations

import http.client
import json
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from tests.fixtures import free_port

MODEL = "darts2"


@pytest.fixture(scope="module")
def service(ray_local):
    from rtecho.scale.serve import start_service, stop_service

    url = start_service(MODEL, port=free_port(), num_cpus=0.5, max_batch=16, batch_wait_ms=2.0)
    yield url
    stop_service()


def _info(url: str) -> dict:
    from rtecho.scale.serve import wait_ready

    return wait_ready(url, 60)


def _post(url: str, body: bytes, headers: dict) -> tuple[int, dict | bytes]:
    from rtecho.runtime.remote import parse_address

    host, port, prefix = parse_address(url)
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.request("POST", prefix + "/infer", body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, (json.loads(data) if resp.status != 200 else data)


def _frames(n: int) -> list[np.ndarray]:
    from rtecho.synth.cine import render_cine

    return list(render_cine("A4C", np.random.default_rng(3), n_frames=n, fps=30, size_hw=(96, 96)).frames)


def test_served_predictions_equal_local(service):
    from rtecho.pipeline import StreamProcessor
    from rtecho.runtime import load_engine

    frames = _frames(6)
    with StreamProcessor(load_engine(MODEL)) as local:
        ref = [local.process(f) for f in frames]
    engine = load_engine(MODEL, backend="serve", address=service)
    with StreamProcessor(engine) as remote:
        got = [remote.process(f) for f in frames]
        x = np.random.default_rng(0).standard_normal((5, *engine.input_shape)).astype(np.float32)
        with load_engine(MODEL) as le:
            np.testing.assert_allclose(engine.infer(x), le.infer(x), atol=1e-5)
    for a, b in zip(got, ref, strict=True):
        assert a.ok and a.label == b.label
        np.testing.assert_allclose(a.probabilities, b.probabilities, atol=1e-5)
        assert a.timings_ms["transport"] > 0 and a.timings_ms["infer"] > 0  # the wire is its own stage
        assert "transport" not in b.timings_ms
    assert got[0].backend == "serve/fp32"


def test_wrong_shape_or_dtype_is_an_error_and_service_keeps_serving(service):
    from rtecho.runtime import load_engine

    info = _info(service)
    c, h, w = info["input_shape"]
    good = np.zeros((1, c, h, w), np.float32)
    base = {"X-Rtecho-Dtype": "float32", "X-Rtecho-Model": info["onnx_sha256"]}
    status, err = _post(
        service,
        np.zeros((1, c, h + 1, w), np.float32).tobytes(),
        {**base, "X-Rtecho-Shape": f"1,{c},{h + 1},{w}"},
    )
    assert status == 400 and "shape must be" in err["error"]
    status, err = _post(
        service,
        good.astype(np.float64).tobytes(),
        {**base, "X-Rtecho-Dtype": "float64", "X-Rtecho-Shape": f"1,{c},{h},{w}"},
    )
    assert status == 400 and "dtype must be float32" in err["error"]
    status, err = _post(service, good.tobytes()[:-4], {**base, "X-Rtecho-Shape": f"1,{c},{h},{w}"})
    assert status == 400 and "bytes" in err["error"]
    status, body = _post(service, good.tobytes(), {**base, "X-Rtecho-Shape": f"1,{c},{h},{w}"})
    assert status == 200 and len(body) == 4 * len(info["labels"])
    # through the engine: a bad frame gives an error result and the next frame is fine
    from rtecho.pipeline import StreamProcessor

    with StreamProcessor(load_engine(MODEL, backend="serve", address=service)) as proc:
        bad = proc.process(np.zeros((5, 5, 4), np.uint8))
        ok = proc.process(_frames(1)[0])
    assert not bad.ok and "HxW" in bad.error and ok.ok


def test_wrong_model_is_refused_at_open(service):
    from rtecho.errors import EngineError
    from rtecho.runtime import load_engine

    with pytest.raises(EngineError, match="serves 'darts2'") as exc:
        load_engine("stanet", backend="serve", address=service).open()
    assert "\n" not in str(exc.value)


def test_unreachable_service_is_one_clear_line():
    from rtecho.errors import EngineError
    from rtecho.runtime import load_engine

    url = f"http://127.0.0.1:{free_port()}/rtecho"
    t0 = time.monotonic()
    with pytest.raises(EngineError) as exc:
        load_engine(MODEL, backend="serve", address=url).open()
    msg = str(exc.value)
    assert "no rtecho service reachable at" in msg and url in msg and "\n" not in msg
    assert time.monotonic() - t0 < 30


def test_replica_killed_mid_stream_errors_then_resumes(service):
    from rtecho.pipeline import StreamProcessor
    from rtecho.runtime import load_engine

    pid = _info(service)["pid"]
    frames = _frames(8)
    # 1 s: far above a request's round trip (p99 ~17 ms here) and below a replica's restart (2-3 s),
    # which Ray Serve's proxy may wait out instead of failing the request in flight
    engine = load_engine(MODEL, backend="serve", address=service, timeout=1.0)
    results = []
    killed_at = None
    with StreamProcessor(engine, policy="latest") as proc:
        proc.start(fps=30)
        t_end = time.monotonic() + 300  # a new replica starts in seconds here; far longer on a loaded machine
        i = 0
        while time.monotonic() < t_end:
            proc.submit(frames[i % len(frames)])
            i += 1
            time.sleep(1 / 30)
            results += proc.poll()
            if killed_at is None and sum(p.ok for p in results) >= 10:
                os.kill(pid, signal.SIGKILL)  # the replica process, not the scanner side
                killed_at = len(results)
            if killed_at is not None:
                after = results[killed_at:]
                errs = [k for k, p in enumerate(after) if not p.ok]
                if errs and sum(p.ok for p in after[errs[0] :]) >= 10:
                    break
        summary = proc.stop()
        results += proc.poll()
    assert killed_at is not None, f"the stream never reached 10 results: {summary.to_dict()}"
    after = results[killed_at:]
    first_err = next((k for k, p in enumerate(after) if not p.ok), None)
    assert first_err is not None, f"no error result after the kill: {summary.to_dict()}"
    assert "serve backend" in after[first_err].error
    assert sum(p.ok for p in after[first_err:]) >= 10, "the stream did not resume after the replica came back"
    assert (
        summary.frames_read == summary.processed + summary.dropped + summary.errors
    )  # every frame accounted for
    assert summary.errors >= 1 and len(results) == summary.processed + summary.errors
    assert _info(service)["pid"] != pid


def _listening() -> dict[int, str]:
    """inode -> "addr:port" of every listening TCP socket (IPv4 and IPv6) on this machine."""
    out = {}
    for name, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] != "0A":  # LISTEN
                continue
            hexaddr, hexport = f[1].split(":")
            raw = bytes.fromhex(hexaddr)
            if width == 8:
                addr = ".".join(str(b) for b in raw[::-1])
            else:  # four little-endian 32-bit words
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                addr = (
                    "::ffff:" + ".".join(map(str, words[12:]))
                    if words[:12] == b"\0" * 10 + b"\xff\xff"
                    else words.hex()
                )
            out[int(f[9])] = f"{addr}:{int(hexport, 16)}"
    return out


def test_ray_and_the_service_listen_on_loopback_only(service):
    listening = _listening()
    mine, owners = [], {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
            if not (cmd.startswith(b"ray::") or b"/site-packages/ray/" in cmd[:400]):
                continue  # not a Ray process (Ray's own: workers, raylet, GCS, agents)
            fds = os.listdir(f"/proc/{entry}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{entry}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:[") and int(link[8:-1]) in listening:
                mine.append(listening[int(link[8:-1])])
                owners[listening[int(link[8:-1])]] = cmd[:80].decode(errors="replace")
    assert mine, "no listening socket of a Ray process found"
    port = int(service.rsplit(":", 1)[1].split("/")[0])
    assert any(a.endswith(f":{port}") for a in mine)
    exposed = [a for a in mine if a.rsplit(":", 1)[0] not in ("127.0.0.1", "::ffff:127.0.0.1")]
    # Known exception: Ray Serve 2.60 replicas bind their inter-deployment gRPC server to "[::]:0"
    # (hard-coded in ray/serve/_private/replica.py); nothing of rtecho's goes through it.
    exposed = [
        a for a in exposed if not (owners[a].startswith("ray::ServeReplica") and a.startswith("0" * 32 + ":"))
    ]
    assert not exposed, f"listening beyond the loopback interface: {[(a, owners[a]) for a in exposed]}"
