"""`rtecho batch` on a real local Ray instance: rows, labels identical to `rtecho run`, error rows,
resume, and a worker killed mid-job."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from tests.scale.helpers import BAD, GOOD, make_clip

pq = pytest.importorskip("pyarrow.parquet")


def _rows(path: Path) -> dict[str, dict]:
    return {Path(r["path"]).name: r for r in pq.read_table(path).to_pylist()}


def _run_labels(tmp_path: Path, clip: Path, ultrasound: bool) -> list[dict]:
    from rtecho.cli import main

    out = tmp_path / f"{clip.name}.jsonl"
    argv = ["run", str(clip), "--jsonl", str(out), "--no-progress"] + (["--ultrasound"] if ultrasound else [])
    assert main(argv) == 0
    return [json.loads(line) for line in out.read_text().splitlines()]


@pytest.fixture(scope="module")
def batch_out(ray_local, inputs_dir, tmp_path_factory):
    from rtecho.scale.batch import BatchOptions, run_batch

    out = tmp_path_factory.mktemp("batch_out")
    report = run_batch(
        [inputs_dir],
        out / "files.parquet",
        frames_out=out / "frames.parquet",
        options=BatchOptions(ultrasound=True),
        progress=False,
    )
    return out, report


def test_one_row_per_file_and_errors_are_rows(batch_out):
    out, report = batch_out
    rows = _rows(out / "files.parquet")
    assert sorted(rows) == sorted(GOOD + BAD)
    assert report.inputs == len(GOOD + BAD) and report.errors == len(BAD) and report.lost == 0
    for name in GOOD:
        r = rows[name]
        assert r["error"] is None, (name, r["error"])
        assert r["frames"] == r["processed"] > 0 and dict(r["modes"]) and 0 <= r["unknown_fraction"] <= 1
        assert len(r["sha256"]) == 64 and r["model"] == "darts2" and r["rtecho_version"]
        if name.startswith("sim"):  # the real cine may end with no accepted view: a valid answer
            assert r["view"] is not None and 0 < r["confidence"] <= 1 and r["segments"]
        assert r["ef_per_beat"] is None and r["ef_mean"] is None  # no LV stage yet
    assert "broken.avi" in rows["broken.avi"]["error"]  # the decoder's one-line reason
    assert "unsupported input" in rows["notes.txt"]["error"]
    assert all("\n" not in rows[n]["error"] for n in BAD)


def test_frame_labels_identical_to_rtecho_run(batch_out, inputs_dir, tmp_path):
    out, _ = batch_out
    frames = pq.read_table(out / "frames.parquet").to_pylist()
    for name in ("sim0.avi", "sim1.mp4", "sim2.dcm", "ybr_color.dcm"):
        mine = [f for f in frames if Path(f["path"]).name == name]
        ref = _run_labels(tmp_path, inputs_dir / name, ultrasound=True)
        assert len(mine) == len(ref) > 0, name
        for a, b in zip(mine, ref, strict=True):
            assert a["frame"] == b["frame"]
            assert (a["label"], a["smoothed_label"], a["accepted"], a["mode"]) == (
                b["label"],
                b["smoothed_label"],
                b["accepted"],
                b["mode"],
            ), (name, a["frame"])
            assert a["confidence"] == pytest.approx(b["confidence"], abs=1e-6)


def test_rerun_skips_done_files(batch_out, inputs_dir):
    from rtecho.scale.batch import BatchOptions, run_batch

    out, _ = batch_out
    before = pq.read_table(out / "files.parquet")
    report = run_batch(
        [inputs_dir], out / "files.parquet", options=BatchOptions(ultrasound=True), progress=False
    )
    assert report.skipped == report.inputs == len(GOOD + BAD) and report.processed == 0
    assert pq.read_table(out / "files.parquet").equals(before)


def test_filelist_csv_and_globs(tmp_path):
    from rtecho.scale.batch import collect_inputs

    (tmp_path / "Videos").mkdir()
    make_clip(tmp_path / "Videos", "a", "A4C", 0, "avi", n_frames=2, size=32)
    (tmp_path / "FileList.csv").write_text("FileName,EF\na,55\nmissing,60\n")
    got = collect_inputs([tmp_path / "FileList.csv", str(tmp_path / "Videos" / "*.avi")])
    assert [Path(p).name for p in got] == ["a.avi", "missing"]  # each once; a missing one stays (error row)


def _task_workers() -> list[int]:
    """PIDs of Ray workers executing our map task now (Ray sets the process title)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if cmd.startswith(b"ray::") and b"_map_row" in cmd:
                pids.append(int(entry))
    return pids


def test_worker_killed_mid_job_every_file_once(ray_local, tmp_path):
    from rtecho.scale.batch import run_batch

    folder = tmp_path / "many"
    folder.mkdir()
    names = [make_clip(folder, f"k{i:02d}", "A4C", i, "avi", n_frames=40, size=64).name for i in range(10)]
    killed: list[int] = []

    def killer() -> None:
        t_end = time.monotonic() + 120
        while not killed and time.monotonic() < t_end:
            pids = _task_workers()
            if pids:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
            time.sleep(0.01)

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    report = run_batch([folder], tmp_path / "out.parquet", progress=False)
    t.join(5)
    assert killed, "no worker was seen running a task"
    rows = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert sorted(Path(r["path"]).name for r in rows) == sorted(names)  # every file, once
    assert report.lost == 0 and all(r["error"] is None for r in rows)  # the killed task was retried
