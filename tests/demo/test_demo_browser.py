"""The Live tab in a real browser: headless Debian Chromium, driven by Playwright, fed a fake webcam.

Chromium's fake capture device plays a Y4M clip (pydicom's A4C cine, 480x640, 20 fps, looped); the
test starts the webcam stream, waits for annotated frames to come back, checks the overlay is on
them, measures the round-trip rate and saves a screenshot. Skips (with the reason) when Playwright's
Python package or a chromium executable is missing: run ``.ci/install-browser`` to install it.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from tests.demo.helpers import a4c_frames, write_y4m

# gradio's own queue uses pandas options that pandas 3 deprecates; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:::gradio.queueing")

CHROMIUM = os.environ.get("RTECHO_CHROMIUM", "/usr/bin/chromium")
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "demo_live.png"
FAKE_FPS = 20
SIZE_HW = (480, 640)
MEASURE_S = 5.0


def _green_pixels(rgb: np.ndarray) -> int:
    """Pixels of the overlay's probability-bar green (70, 220, 110); echo frames are gray."""
    r, g, b = (rgb[..., i].astype(np.int16) for i in range(3))
    return int(((g > 170) & (g - r > 90) & (g - b > 60)).sum())


@pytest.fixture(scope="module")
def browser_page(demo_url: str, tmp_path_factory: pytest.TempPathFactory):
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="needs Playwright's Python package (pip install playwright)"
    )
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"no chromium at {CHROMIUM}: run .ci/install-browser (apt-get install chromium)")
    clip = write_y4m(tmp_path_factory.mktemp("webcam") / "a4c.y4m", a4c_frames(SIZE_HW), fps=FAKE_FPS)
    args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={clip}",
    ]
    with sync_api.sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
        except sync_api.Error as exc:
            pytest.skip(f"chromium at {CHROMIUM} would not start: {str(exc).splitlines()[0]}")
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000}, permissions=["camera"])
            page = context.new_page()
            page.set_default_timeout(30_000)
            page.goto(demo_url)
            yield page
        finally:
            browser.close()


def test_live_tab_streams_annotated_frames(browser_page, tmp_path: Path, record_property):
    page = browser_page
    page.click("#live-input [title='grant webcam access'] button")
    page.click("#live-input button.capture-button")  # "Record": starts streaming frames
    output_src = "() => { const i = document.querySelector('#live-output img'); return i ? i.src : null; }"
    page.wait_for_function(f"({output_src})() !== null")
    page.wait_for_function(
        "document.querySelector('#live-readout textarea').value.includes('fps round trip')"
    )

    # Round trip, as the browser sees it: distinct annotated images shown per second.
    srcs: list[str] = []
    readouts: list[str] = []
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < MEASURE_S:
        src = page.evaluate(output_src)
        if src and (not srcs or src != srcs[-1]):
            srcs.append(src)
        text = page.input_value("#live-readout textarea")
        if not readouts or text != readouts[-1]:
            readouts.append(text)
        page.wait_for_timeout(5)
    browser_fps = (len(srcs) - 1) / MEASURE_S
    last = readouts[-1]
    server_fps = float(last.split(" fps round trip")[0].rsplit("|", 1)[1])
    record_property("browser_fps", round(browser_fps, 2))
    record_property("server_fps", server_fps)
    (tmp_path / "live_fps.json").write_text(
        json.dumps({"fake_webcam_fps": FAKE_FPS, "browser_fps": browser_fps, "server_fps": server_fps})
    )
    print(
        f"\nlive round trip with a {FAKE_FPS} fps fake webcam: browser {browser_fps:.1f} fps, server {server_fps} fps"
    )
    assert len(srcs) >= 5, f"only {len(srcs)} annotated frames came back in {MEASURE_S} s"
    assert len(readouts) >= 5 and "latency" in last and "tiny-untrained (UNTRAINED)" in last, last

    # The frames that came back carry the overlay: the probability bars are on them.
    from PIL import Image

    shown = np.asarray(Image.open(io.BytesIO(page.request.get(srcs[-1]).body())).convert("RGB"))
    assert shown.shape[:2] == SIZE_HW
    baseline = max(_green_pixels(f) for f in a4c_frames(SIZE_HW))
    assert _green_pixels(shown) > baseline + 100, "no probability bar drawn on the streamed frame"

    shot = tmp_path / "demo_live.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    if not DOCS_SCREENSHOT.exists() or os.environ.get("RTECHO_UPDATE_SCREENSHOTS") == "1":
        DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, DOCS_SCREENSHOT)


def test_file_tab_plays_the_annotated_a4c_cine(browser_page, tmp_path: Path):
    from pydicom import examples

    page = browser_page
    page.get_by_role("tab", name="File").click()
    page.set_input_files("#file-input input[type=file]", examples.get_path("ybr_color"))
    page.wait_for_function("document.querySelector('#file-input').innerText.includes('ybr_color')")
    page.click("#file-run")
    page.wait_for_function(
        "document.querySelector('#file-summary textarea').value.includes('frames read 30, processed 30')"
    )
    page.wait_for_selector("#file-video video")
    # the browser can play it: metadata loads and the duration is 30 frames at 30 fps
    duration = page.wait_for_function(
        """() => { const v = document.querySelector('#file-video video');
                   return v && v.readyState >= 1 && v.duration > 0 ? v.duration : null; }"""
    ).json_value()
    assert duration == pytest.approx(1.0, abs=0.1)
    assert page.locator("#file-timeline img").count() == 1 and page.locator("#file-latency img").count() == 1
    page.screenshot(path=str(tmp_path / "demo_file.png"), full_page=True)
