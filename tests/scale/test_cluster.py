"""A two-node Ray cluster on this machine (`ray start --head` + `ray start --address`), and
`rtecho batch --address` running tasks on both nodes.

Each node is a `ray start --block` in its own process session, stopped by signalling that session
(and, as a backstop, any process whose command line names this test's own temp dir) rather than
with `ray stop`, which would stop every Ray process on the machine, the suite's local instance and
anyone else's included. Every step is bounded in time. Marked ``slow`` (RTECHO_SLOW=1 runs it):
Ray 2.60 will not form a multi-node cluster on the loopback interface alone, so its nodes listen on
this machine's own address.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rtecho.scale.cluster import LOCAL_ENV, LOOPBACK_ENV
from tests.fixtures import free_port
from tests.scale.helpers import make_clip

pq = pytest.importorskip("pyarrow.parquet")
REPO = Path(__file__).resolve().parents[2]
RAY = str(Path(sys.executable).with_name("ray"))

NODES_SCRIPT = """
import json, sys, time, ray
ray.init(address=sys.argv[1], logging_level="ERROR", log_to_driver=False)
t_end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < t_end:
    alive = [n for n in ray.nodes() if n["Alive"]]
    if len(alive) >= 2:
        break
    time.sleep(0.5)
print(json.dumps({n["NodeID"]: sorted(k for k in n["Resources"] if k.startswith("rtecho_")) for n in alive}))
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.pop("RAY_ADDRESS", None)
    env["OMP_NUM_THREADS"] = "1"
    # Ray refuses a second node when its loopback switch is on ("multi-node clusters are not
    # supported"), so these nodes use Ray's default networking: this machine's own address, all
    # interfaces. Hence opt-in (slow marker) rather than in every run.
    env.pop(LOOPBACK_ENV, None)
    env.update({k: v for k, v in LOCAL_ENV.items() if k != LOOPBACK_ENV})
    env.setdefault("RAY_AUTH_MODE", "token")  # Ray 2.60 clusters require the token (~/.ray/auth_token)
    return env


def _ports(*names: str) -> list[str]:
    return [f"--{n}={free_port()}" for n in names]


def _stop(procs: list[subprocess.Popen], temp_dir: Path) -> None:
    for p in procs:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                break
            try:
                p.wait(10)
                break
            except subprocess.TimeoutExpired:
                continue
    # backstop: processes of this cluster that left the session (their command line names our temp dir)
    marker = str(temp_dir).encode()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                if marker in Path(f"/proc/{entry}/cmdline").read_bytes():
                    os.kill(int(entry), signal.SIGKILL)
            except OSError:
                continue


def _leftovers(temp_dir: Path) -> list[int]:
    marker = str(temp_dir).encode()
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if marker in Path(f"/proc/{entry}/cmdline").read_bytes():
                    out.append(int(entry))
            except OSError:
                continue
    return out


@pytest.mark.slow
def test_two_node_cluster_runs_batch_tasks_on_both_nodes(tmp_path):
    temp_dir = Path("/tmp") / f"rtecho-ray-{os.getpid()}-{time.monotonic_ns() % 10**6}"  # short: socket paths
    port = free_port()
    address = f"127.0.0.1:{port}"
    head = [RAY, "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1", "--num-cpus=1"]
    head += ["--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp_dir}", "--block"]
    head += ['--resources={"rtecho_head": 1}']
    head += _ports("ray-client-server-port", "dashboard-agent-listen-port", "dashboard-agent-grpc-port")
    head += _ports("runtime-env-agent-port", "metrics-export-port")
    worker = [RAY, "start", f"--address={address}", "--node-ip-address=127.0.0.1", "--num-cpus=1", "--block"]
    worker += ['--resources={"rtecho_worker": 1}', "--disable-usage-stats"]
    worker += _ports("dashboard-agent-listen-port", "dashboard-agent-grpc-port", "runtime-env-agent-port")
    worker += _ports("metrics-export-port")
    procs: list[subprocess.Popen] = []
    log = open(tmp_path / "ray_start.log", "w")  # noqa: SIM115 - closed in finally, after the nodes stop
    try:
        procs.append(subprocess.Popen(head, env=_env(), stdout=log, stderr=log, start_new_session=True))
        nodes, last_error = {}, ""
        t_end = time.monotonic() + 240
        while len(nodes) < 2 and time.monotonic() < t_end:
            if len(procs) == 1:  # the head answers before the worker joins
                r = subprocess.run(
                    [RAY, "status", f"--address={address}"], env=_env(), capture_output=True, timeout=60
                )
                if r.returncode == 0:
                    procs.append(
                        subprocess.Popen(worker, env=_env(), stdout=log, stderr=log, start_new_session=True)
                    )
                else:
                    time.sleep(1)
                continue
            r = subprocess.run(
                [sys.executable, "-c", NODES_SCRIPT, address, "60"],
                env=_env(),
                capture_output=True,
                text=True,
                timeout=120,
            )
            if r.returncode != 0:  # the GCS may not answer in time on a loaded machine: ask again
                last_error = r.stderr[-2000:]
                continue
            nodes = json.loads(r.stdout.strip().splitlines()[-1])
        assert nodes, f"no answer from the cluster: {last_error}"
        assert sorted(nodes.values()) == [["rtecho_head"], ["rtecho_worker"]], (
            nodes,
            (tmp_path / "ray_start.log").read_text()[-2000:],
        )

        folder = tmp_path / "clips"
        folder.mkdir()
        for i in range(8):
            make_clip(folder, f"n{i}", "A4C", i, "avi", n_frames=30, size=64)
        out = tmp_path / "out.parquet"
        cmd = [
            sys.executable,
            "-m",
            "rtecho.cli",
            "batch",
            str(folder),
            "--out",
            str(out),
            "--address",
            address,
            "--no-progress",
        ]
        r = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-3000:]
        assert "8 processed" in r.stdout
        rows = pq.read_table(out).to_pylist()
        assert len(rows) == 8 and all(row["error"] is None for row in rows)
        used = {row["node_id"] for row in rows}
        assert used == set(nodes), f"tasks ran on {used}, cluster nodes {sorted(nodes)}"
    finally:
        log.close()
        _stop(procs, temp_dir)
    assert _leftovers(temp_dir) == []
