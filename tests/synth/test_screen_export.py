"""Scanner screens (truth, modes) and dataset export (PNG tree, AVI/MP4/DICOM, FileList.csv, CLI)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from rtecho.cli import main
from rtecho.synth import SynthError, generate_dataset, render_screen
from rtecho.synth.contact import contact_sheet


@pytest.mark.parametrize("mode", ["bmode", "color_doppler", "spectral_doppler", "mmode"])
def test_screen_modes_and_truth(mode):
    s = render_screen("A4C", np.random.default_rng(0), mode=mode)
    assert s.image.shape == (240, 320, 3) and s.image.dtype == np.uint8
    assert s.truth.mode == mode
    img = s.image.astype(int)
    colourful = (np.abs(img[..., 0] - img[..., 2]) > 60).sum()
    if mode == "color_doppler":
        assert s.truth.doppler_box is not None and colourful > 50
    ax, ay = s.truth.apex_xy
    r = s.truth.radius_px
    a = np.radians(0.5 * (s.truth.angle_start_deg + s.truth.angle_end_deg))
    x, y = int(ax + 0.6 * r * np.sin(a)), int(ay + 0.6 * r * np.cos(a))
    assert img[y - 3 : y + 3, x - 3 : x + 3].mean() > 0  # the truth points into the imaged fan


def test_screen_rejects_unknown_mode():
    with pytest.raises(SynthError):
        render_screen("A4C", np.random.default_rng(0), mode="xray")


def test_generate_dataset_writes_everything(tmp_path):
    pydicom = pytest.importorskip("pydicom")
    av = pytest.importorskip("av")
    out = generate_dataset(
        tmp_path,
        ["A4C", "OTHER"],
        2,
        (48, 48),
        seed=1,
        cine=True,
        progress=False,
        n_frames=5,
        fps=25.0,
        formats=("avi", "mp4", "dcm"),
    )
    assert len(list((out / "stills" / "A4C").glob("*.png"))) == 2
    with open(out / "cines" / "FileList.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4
    assert {"EF", "ESV", "EDV", "FrameHeight", "FrameWidth", "FPS", "NumberOfFrames", "Split"} <= set(rows[0])
    name = rows[0]["FileName"]
    ds = pydicom.dcmread(out / "cines" / f"{name}.dcm")
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.3.1"
    assert float(ds.FrameTime) == pytest.approx(40.0)
    assert ds.pixel_array.shape == (5, 48, 48)
    with av.open(str(out / "cines" / f"{name}.avi")) as c:
        assert sum(1 for _ in c.decode(video=0)) == 5
    with np.load(out / "cines" / "masks" / f"{name}.npz") as z:
        assert z["lv_masks"].shape == (5, 48, 48) and 0 <= int(z["ed_index"]) < 5
    assert (out / "contact_sheet.png").is_file()


def test_generate_dataset_is_deterministic(tmp_path):
    a = generate_dataset(tmp_path / "a", ["PLAX"], 2, (40, 40), seed=5, progress=False)
    b = generate_dataset(tmp_path / "b", ["PLAX"], 2, (40, 40), seed=5, progress=False)
    for p in (a / "stills" / "PLAX").iterdir():
        assert p.read_bytes() == (b / "stills" / "PLAX" / p.name).read_bytes()


def test_cli_runs_and_reports_bad_arguments(tmp_path, capsys):
    assert (
        main(["synth", "--out", str(tmp_path), "--views", "A2C", "--n", "1", "--size", "40", "--no-progress"])
        == 0
    )
    assert (tmp_path / "stills" / "A2C" / "A2C_000000.png").is_file()
    assert main(["synth", "--out", str(tmp_path), "--views", "BOGUS", "--n", "1", "--no-progress"]) == 1
    assert "unknown view 'BOGUS'" in capsys.readouterr().err
    assert main(["synth", "--out", str(tmp_path), "--size", "0", "--n", "1", "--no-progress"]) == 1


def test_contact_sheet_labels_one_tile_per_view():
    sheet = contact_sheet(seed=0, size_hw=(40, 40), views=["A4C", "PLAX", "SSN"], cols=3)
    assert sheet.shape == (40, 120, 3)
