"""Session-wide generated media for the rtecho.io tests (tiny, deterministic; see tests/fixtures.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures import make_dicom_cine, make_png_folder, make_video


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Paths of generated clips: mp4 (h264), avi (mjpeg), gif, gray mp4, png folder, DICOMs."""
    d = tmp_path_factory.mktemp("io_media")
    return {
        "mp4": make_video(d / "clip.mp4", codec="h264", n=10),
        "mp4_faststart": make_video(d / "clip_fs.mp4", codec="h264", n=30, faststart=True),
        "avi": make_video(d / "clip.avi", codec="mjpeg", n=10),
        "gif": make_video(d / "clip.gif", codec="gif", n=6, fps=25.0),
        "mp4_25": make_video(d / "clip25.mp4", codec="h264", n=5, fps=25.0),
        "pngs": make_png_folder(d / "pngs", n=12, size_hw=(48, 64)),
        "dcm_mono": make_dicom_cine(d / "mono.dcm", n=8, size_hw=(48, 64), frame_time_ms=40.0),
        "dcm_rgb_rle": make_dicom_cine(d / "rgb_rle.dcm", n=6, photometric="RGB", rle=True),
        "dcm_mono_rle": make_dicom_cine(d / "mono_rle.dcm", n=6, rle=True, frame_time_ms=None),
    }
