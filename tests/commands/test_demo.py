"""`rtecho demo` and `demos/gradio_app.py`: options, and a real launch bound to 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from rtecho.cli import main
from tests.fixtures import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_rtecho_demo_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--host", "--port", "--share", "--max-upload-mb", "--webcam-fps"):
        assert option in out


def test_launcher_script_has_the_same_options():
    out = subprocess.run(
        [sys.executable, str(ROOT / "demos" / "gradio_app.py"), "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    assert "--max-upload-mb" in out and "127.0.0.1" in out


def test_rtecho_demo_serves_on_localhost():
    pytest.importorskip("gradio", reason="the demo needs gradio (pip install 'rtecho[demo]')")
    port = free_port()
    code = "import sys; from rtecho.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "demo", "--port", str(port), "--max-upload-mb", "5"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline, body = time.monotonic() + 60, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=2) as r:
                    body = r.read().decode()
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.3)
        assert proc.poll() is None, f"rtecho demo exited early: {proc.communicate()[0][-2000:]}"
        assert body is not None, "rtecho demo did not answer within 60 s"
        assert '"max_file_size":5000000' in body.replace(" ", "") and "rtecho" in body
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


@pytest.mark.parametrize(
    "argv,message",
    [(["--model", "no-such-model"], "not found"), (["--backend", "no-such-backend"], "not installed")],
)
def test_rtecho_demo_rejects_unknown_model_or_backend(capsys, argv, message):
    assert main(["demo", *argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith("rtecho demo: error:") and message in err and len(err.strip().splitlines()) == 1
