"""DicomSource on pydicom's bundled files (A4C cine, palette, RLE) and on generated cine loops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rtecho.errors import SourceError
from rtecho.io import DicomSource
from tests.fixtures import make_dicom_cine, make_truncated, pattern_frame, square_x

pydicom = pytest.importorskip("pydicom")
from pydicom import examples  # noqa: E402
from pydicom.data import get_testdata_file  # noqa: E402


def _local(name: str) -> str:
    """A file bundled in pydicom's test_files folder (never downloaded)."""
    path = Path(pydicom.data.__file__).parent / "test_files" / name
    assert path.exists(), f"pydicom no longer bundles {name}"
    return str(path)


def test_real_a4c_cine_ybr_jpeg() -> None:
    with DicomSource(examples.get_path("ybr_color")) as src:
        info = src.info
        frames = list(src)
    assert info.n_frames == 30 and len(frames) == 30
    assert info.size_hw == (240, 320)
    assert info.fps == pytest.approx(30.0, rel=1e-3)  # FrameTime 33.333 ms
    assert info.pixel_spacing_mm == pytest.approx((0.5105, 0.5105), rel=1e-3)  # 0.051 cm regions
    assert "JPEG" in info.extra["transfer_syntax_name"]
    for f in frames:
        assert f.image.shape == (240, 320, 3) and f.image.dtype == np.uint8
    assert [f.index for f in frames] == list(range(30))
    assert np.allclose(np.diff([f.timestamp for f in frames]), 0.033333, atol=1e-5)
    # YBR was converted to RGB by pydicom, not left as YCbCr: gray echo pixels have R ~ G ~ B
    img = frames[0].image.astype(int)
    bright = img.sum(axis=2) > 150
    assert bright.sum() > 500
    assert np.median(np.abs(img[..., 0] - img[..., 2])[bright]) < 12
    # consecutive frames differ (a real moving heart, not one frame repeated)
    assert np.abs(frames[0].image.astype(int) - frames[10].image.astype(int)).mean() > 1.0


def test_palette_colour_lut_is_applied() -> None:
    with DicomSource(examples.get_path("palette_color")) as src:
        (frame,) = list(src)
        assert src.info.n_frames == 1
        assert src.info.extra["photometric"] == "PALETTE COLOR"
    assert frame.image.shape == (350, 800, 3) and frame.image.dtype == np.uint8
    assert frame.image.max() > 200  # 16-bit LUT entries were scaled to 8 bits, not truncated
    channels_differ = (frame.image[..., 0] != frame.image[..., 2]).mean()
    assert channels_differ > 0.01  # really coloured


def test_rle_rgb_two_frames_bundled() -> None:
    with DicomSource(get_testdata_file("SC_rgb_rle_2frame.dcm")) as src:
        frames = list(src)
    assert len(frames) == 2
    assert frames[0].image.shape == (100, 100, 3)


def test_generated_mono_cine(media: dict[str, Path]) -> None:
    with DicomSource(media["dcm_mono"]) as src:
        info = src.info
        frames = list(src)
    assert (info.n_frames, info.size_hw, info.fps) == (8, (48, 64), pytest.approx(25.0))
    assert info.pixel_spacing_mm == pytest.approx((0.3, 0.3))
    for i, f in enumerate(frames):
        assert f.image.shape == (48, 64) and f.image.dtype == np.uint8
        assert np.array_equal(f.image, pattern_frame(i, (48, 64), gray=True))  # lossless
    assert [f.timestamp for f in frames] == pytest.approx([i * 0.04 for i in range(8)])


def test_generated_rle_rgb(media: dict[str, Path]) -> None:
    with DicomSource(media["dcm_rgb_rle"]) as src:
        assert "RLE" in src.info.extra["transfer_syntax_name"]
        frames = list(src)
    assert len(frames) == 6
    for i, f in enumerate(frames):
        assert np.array_equal(f.image, pattern_frame(i, (48, 64)))


def test_no_frame_time_gives_unknown_fps_but_monotonic_timestamps(media: dict[str, Path]) -> None:
    with DicomSource(media["dcm_mono_rle"]) as src:
        assert src.info.fps is None
        frames = list(src)
    stamps = [f.timestamp for f in frames]
    assert all(b > a for a, b in zip(stamps, stamps[1:], strict=False))
    assert [square_x(f.image) for f in frames] == [square_x(pattern_frame(i, (48, 64))) for i in range(6)]


def test_frame_time_vector_and_cine_rate(tmp_path: Path) -> None:
    path = make_dicom_cine(tmp_path / "ftv.dcm", n=4, frame_time_ms=None)
    ds = pydicom.dcmread(path)
    ds.FrameTimeVector = ["0", "20", "20", "20"]
    ds.save_as(path)
    with DicomSource(path) as src:
        assert src.info.fps == pytest.approx(50.0)
        assert [f.timestamp for f in src] == pytest.approx([0.0, 0.02, 0.04, 0.06])
    del ds.FrameTimeVector
    ds.CineRate = 12
    ds.save_as(path)
    with DicomSource(path) as src:
        assert src.info.fps == pytest.approx(12.0)


def test_pixel_spacing_fallback_and_single_frame_monochrome() -> None:
    with DicomSource(_local("CT_small.dcm")) as src:  # 16-bit CT, one frame
        (frame,) = list(src)
        assert src.info.pixel_spacing_mm == pytest.approx((0.661468, 0.661468))
        assert src.info.fps is None
    assert frame.image.shape == (128, 128) and frame.image.dtype == np.uint8
    assert frame.image.min() < 50 and frame.image.max() > 200  # scaled to the 8-bit range


def test_no_pixel_data() -> None:
    with pytest.raises(SourceError, match="no pixel data"):
        DicomSource(_local("rtplan.dcm"))


def test_not_dicom(tmp_path: Path) -> None:
    bad = tmp_path / "fake.dcm"
    bad.write_text("not a dicom file")
    with pytest.raises(SourceError, match="fake.dcm is not a DICOM file") as err:
        DicomSource(bad)
    assert isinstance(err.value.__cause__, pydicom.errors.InvalidDicomError)


def test_nonexistent(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not found"):
        DicomSource(tmp_path / "missing.dcm")


def test_truncated_native_yields_frames_then_raises(media: dict[str, Path], tmp_path: Path) -> None:
    bad = make_truncated(media["dcm_mono"], tmp_path / "cut.dcm", 0.6)
    got = []
    with pytest.raises(SourceError, match=r"cut.dcm.*truncated") as err:
        for f in DicomSource(bad):
            got.append(f.index)
    assert 0 < len(got) < 8
    assert f"frame {len(got)} of 8" in str(err.value)


def test_truncated_encapsulated_raises_at_open(media: dict[str, Path], tmp_path: Path) -> None:
    bad = make_truncated(media["dcm_rgb_rle"], tmp_path / "cut_rle.dcm", 0.5)
    with pytest.raises(SourceError, match="cut_rle.dcm is truncated"):
        DicomSource(bad)


def test_monochrome1_is_inverted(media: dict[str, Path], tmp_path: Path) -> None:
    ds = pydicom.dcmread(media["dcm_mono"])
    ds.PhotometricInterpretation = "MONOCHROME1"
    path = tmp_path / "mono1.dcm"
    ds.save_as(path)
    with DicomSource(path) as src:
        first = next(iter(src))
    assert np.array_equal(first.image, 255 - pattern_frame(0, (48, 64), gray=True))


def test_sixteen_bit_cine_uses_one_scale_for_all_frames(tmp_path: Path) -> None:
    ds = pydicom.dcmread(make_dicom_cine(tmp_path / "a.dcm", n=3))
    frames16 = np.stack([pattern_frame(i, (48, 64), gray=True) for i in range(3)]).astype(np.uint16) * 16
    frames16[2] //= 2  # a darker last frame must stay darker (no per-frame rescaling)
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelData = frames16.tobytes()
    ds.save_as(tmp_path / "b.dcm")
    with DicomSource(tmp_path / "b.dcm") as src:
        images = [f.image for f in src]
    assert all(img.dtype == np.uint8 for img in images)
    assert images[0].max() == 255 and images[2].max() < 140
