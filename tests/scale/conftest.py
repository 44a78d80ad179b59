"""Fixtures of the scale tests: one real local Ray instance for the session (2 CPUs, no dashboard,
127.0.0.1 only, shut down at the end) and a folder of tiny inputs (simulator clips, pydicom's real
DICOM, a corrupt video, a text file)."""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

import pytest

from rtecho.scale.cluster import loopback_only
from tests.scale.helpers import make_clip

loopback_only()  # Ray on 127.0.0.1 only (read when Ray is imported), patient Serve proxy checks
ray = pytest.importorskip("ray", reason='needs Ray: pip install "rtecho[scale]"')

INIT_TIMEOUT_S = 180


class _Timeout:
    """SIGALRM after ``seconds``: a Ray start that hangs fails the test instead of the suite."""

    def __init__(self, seconds: int, what: str) -> None:
        self.seconds, self.what = seconds, what

    def _fire(self, *_: object) -> None:
        raise TimeoutError(f"{self.what} took more than {self.seconds} s")

    def __enter__(self) -> None:
        self._old = signal.signal(signal.SIGALRM, self._fire)
        signal.alarm(self.seconds)

    def __exit__(self, *exc: object) -> None:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, self._old)


@pytest.fixture(scope="session")
def ray_local():
    """A real local Ray instance shared by the scale tests (the suite pays its start-up once)."""
    if ray.is_initialized():
        ray.shutdown()
    with _Timeout(INIT_TIMEOUT_S, "ray.init"):
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            _node_ip_address="127.0.0.1",
            log_to_driver=False,
            logging_level="WARNING",
        )
    yield ray
    try:
        from ray import serve

        serve.shutdown()
    finally:
        ray.shutdown()


@pytest.fixture(scope="session")
def inputs_dir(tmp_path_factory) -> Path:
    """Six simulator clips (AVI, MP4, DICOM), pydicom's real YBR colour cine, a corrupt AVI and a text file."""
    pydicom_examples = pytest.importorskip("pydicom.examples")
    folder = tmp_path_factory.mktemp("scale_inputs")
    views = ["A4C", "PLAX", "A2C", "PSAX-AV", "SC4C", "A3C"]
    for i, view in enumerate(views):
        make_clip(folder, f"sim{i}", view, seed=i, fmt=("avi", "mp4", "dcm")[i % 3])
    shutil.copy(pydicom_examples.get_path("ybr_color"), folder / "ybr_color.dcm")
    (folder / "broken.avi").write_bytes(b"RIFF\x00\x00\x00\x00AVI garbage" * 40)
    (folder / "notes.txt").write_text("not a video\n")
    shutil.rmtree(folder / "masks", ignore_errors=True)  # simulator sidecars (would be skipped anyway)
    return folder
