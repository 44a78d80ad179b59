from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from rtecho.synth import render_screen
from rtecho.synth.mode_screens import SCREEN_SIZES, sample_mode_screen
from rtecho.types import CLASSIFIED_MODES
from rtecho.ultrasound import ModeGate, SectorDetector, detect_sector
from rtecho.ultrasound.mode import GATE_MODEL, ModeModelError, load_trace_model
from rtecho.views import VIEWS

_REPO = Path(__file__).resolve().parents[2]
REAL = next(
    (p / "shared/data/real" for p in (_REPO.parent, _REPO.parent.parent) if (p / "shared").exists()), _REPO
)
PAL = REAL / "debian-octave-dicom/US-PAL-8-10x-echo.dcm"
RAVEN = REAL / "raventan95-echo-view-classifier"  # MIT-licensed real B-mode stills
MODES4 = ("bmode", "color_doppler", "spectral_doppler", "mmode")


def _gate(image: np.ndarray) -> str:
    return ModeGate()(image, detect_sector(image)).mode


def test_mode_gate_on_simulator_screens():
    rng = np.random.default_rng(5)
    right = 0
    n = 52
    for i in range(n):
        mode = MODES4[i % 4]
        s = render_screen(VIEWS[i % 13], rng, mode=mode)
        right += _gate(s.image) == mode
    assert right / n >= 0.94  # the exact mode (M-mode vs spectral too)


def test_every_layout_size_and_view_gated_or_classified():
    """Exported screens (all 13 views, 4 sizes, crops, JPEG, toolbars): 2-D ones classified, traces gated."""
    rng = np.random.default_rng(21)  # the gate was fitted on seeds 0-2
    ok: Counter[str] = Counter()
    n: Counter[str] = Counter()
    layouts: Counter[str] = Counter()
    for mode in MODES4:
        for k, view in enumerate(VIEWS):
            for j in range(2 if mode in CLASSIFIED_MODES else 1):
                s = sample_mode_screen(mode, view, rng, size_hw=SCREEN_SIZES[(k + j) % len(SCREEN_SIZES)])
                got = _gate(s.image)
                two_d = mode in CLASSIFIED_MODES
                ok[mode] += (got in CLASSIFIED_MODES) if two_d else (got not in CLASSIFIED_MODES)
                n[mode] += 1
                layouts[s.truth.layout or "2d"] += 1
    assert layouts["top"] > 0 and layouts["side"] > 0
    classified = (ok["bmode"] + ok["color_doppler"]) / (n["bmode"] + n["color_doppler"])
    gated = (ok["spectral_doppler"] + ok["mmode"]) / (n["spectral_doppler"] + n["mmode"])
    assert classified >= 0.98, ok
    assert gated >= 0.95, ok


@pytest.mark.parametrize(
    "kind", ["mitral_inflow", "lvot", "cw_jet", "tdi", "mmode_lv", "mmode_mv", "mmode_ao"]
)
def test_each_trace_kind_is_gated(kind):
    from rtecho.synth.trace_screen import trace_screen

    rng = np.random.default_rng(3)
    mode = "mmode" if kind.startswith("mmode") else "spectral_doppler"
    for hw in ((480, 640), (600, 800)):
        small = render_screen("A4C", rng, size_hw=(120, 160), mode="bmode", furniture=False).image[..., 0]
        img, lay, got_kind = trace_screen(small, mode, hw, rng, 70.0, kind=kind)
        assert got_kind == kind and img.shape == (*hw, 3)
        assert _gate(img) not in CLASSIFIED_MODES, (kind, hw, lay)


def test_frozen_and_blank():
    rng = np.random.default_rng(0)
    img = render_screen("A4C", rng, mode="bmode").image
    gate = ModeGate(frozen_frames=3)
    modes = [gate(img).mode for _ in range(5)]
    assert modes[:3] == ["bmode"] * 3 and modes[3:] == ["frozen", "frozen"]
    assert gate(render_screen("A4C", rng, mode="bmode").image).mode == "bmode"
    assert ModeGate()(np.zeros((240, 320, 3), np.uint8)).mode == "blank"


def test_gate_model_file_is_checked(tmp_path):
    d = json.loads(GATE_MODEL.read_text())
    assert "dev" not in d["data"]  # fitted on simulator + permissive real frames only
    bad = tmp_path / "gate.json"
    bad.write_text(json.dumps({**d, "features": d["features"][:-1]}))
    with pytest.raises(ModeModelError, match="features"):
        load_trace_model(bad)
    with pytest.raises(ModeModelError, match="cannot read"):
        ModeGate(model=tmp_path / "missing.json")


def _stream_modes(path: str) -> Counter[str]:
    from rtecho.io import open_source

    det, gate = SectorDetector(), ModeGate()
    with open_source(path) as src:
        return Counter(gate(f.image, det.update(f.image)).mode for f in src)


def test_real_a4c_cines_stay_bmode():
    pytest.importorskip("pydicom")
    from pydicom import examples

    modes = _stream_modes(str(examples.get_path("ybr_color")))
    assert sum(modes.values()) == 30 and set(modes) <= set(CLASSIFIED_MODES), modes
    try:
        from pydicom.data import get_testdata_file

        path = get_testdata_file(
            "color3d_jpeg_baseline.dcm", download=False
        )  # from pydicom-data (rtecho[dev])
    except (ValueError, OSError):
        path = None
    if path is None:
        pytest.skip("pydicom-data not installed: color3d_jpeg_baseline.dcm missing")
    modes = _stream_modes(str(path))
    assert sum(modes.values()) == 120 and set(modes) <= set(CLASSIFIED_MODES), modes


@pytest.mark.skipif(not RAVEN.exists(), reason="real stills not in ../shared/data/real")
def test_real_bmode_stills_stay_classified():
    from PIL import Image

    files = sorted(RAVEN.glob("*.*g"))
    assert files
    for p in files:
        assert _gate(np.asarray(Image.open(p).convert("RGB"))) in CLASSIFIED_MODES, p.name


@pytest.mark.skipif(not PAL.exists(), reason="real colour Doppler DICOM not in ../shared/data/real")
def test_real_colour_doppler_dicom():
    modes = _stream_modes(str(PAL))
    assert modes and set(modes) == {"color_doppler"}
