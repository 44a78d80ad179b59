"""read_image: one rule per kind of file (8/16-bit, grey/RGB/RGBA/palette, PNG/JPEG/BMP/TIFF), clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from rtecho.errors import SourceError
from rtecho.io import FolderSource
from rtecho.io.image import ImageError, read_image
from tests.io.images import write_png_rgb16

Image = pytest.importorskip("PIL.Image")

RNG = np.random.default_rng(3)
GREY = RNG.integers(0, 256, (13, 17)).astype(np.uint8)
RGB = RNG.integers(0, 256, (13, 17, 3)).astype(np.uint8)


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif"])
def test_lossless_8bit_grey_and_rgb_read_back_exactly(tmp_path, suffix):
    Image.fromarray(GREY).save(tmp_path / f"g{suffix}")
    Image.fromarray(RGB).save(tmp_path / f"c{suffix}")
    g, c = read_image(tmp_path / f"g{suffix}"), read_image(tmp_path / f"c{suffix}")
    assert g.dtype == c.dtype == np.uint8 and g.shape == (13, 17) and c.shape == (13, 17, 3)
    assert np.array_equal(g, GREY) and np.array_equal(c, RGB)
    assert g.flags.writeable and c.flags.c_contiguous


def test_alpha_is_dropped_and_palette_and_bilevel_expand(tmp_path):
    Image.fromarray(np.dstack([RGB, GREY])).save(tmp_path / "rgba.png")
    assert np.array_equal(read_image(tmp_path / "rgba.png"), RGB)
    Image.fromarray(np.dstack([GREY, 255 - GREY]), "LA").save(tmp_path / "la.png")
    assert np.array_equal(read_image(tmp_path / "la.png"), GREY)
    pal = Image.fromarray(RGB).quantize(colors=16)
    pal.save(tmp_path / "p.png")
    assert np.array_equal(read_image(tmp_path / "p.png"), np.asarray(pal.convert("RGB")))
    Image.fromarray(GREY > 127).save(tmp_path / "bw.png")
    assert np.array_equal(read_image(tmp_path / "bw.png"), np.where(GREY > 127, 255, 0).astype(np.uint8))


def test_16bit_keeps_the_top_byte_whatever_the_content(tmp_path):
    dark = RNG.integers(0, 4096, (9, 11)).astype(np.uint16)  # 12-bit data reads dark, by design
    bright = dark.copy()
    bright[0, 0] = 65535  # one bright pixel changes nothing else (no scaling by the maximum)
    Image.fromarray(dark).save(tmp_path / "dark.png")
    Image.fromarray(bright).save(tmp_path / "bright.png")
    a, b = read_image(tmp_path / "dark.png"), read_image(tmp_path / "bright.png")
    assert np.array_equal(a, (dark >> 8).astype(np.uint8))
    assert np.array_equal(b.ravel()[1:], a.ravel()[1:]) and b[0, 0] == 255
    Image.fromarray(dark.astype(np.int32), "I").save(tmp_path / "i32.tif")
    assert np.array_equal(read_image(tmp_path / "i32.tif"), a)
    rgb16 = RNG.integers(0, 65536, (5, 7, 3)).astype(np.uint16)
    write_png_rgb16(tmp_path / "rgb16.png", rgb16)
    assert np.array_equal(read_image(tmp_path / "rgb16.png"), (rgb16 >> 8).astype(np.uint8))


def test_jpeg_is_decoded_as_pillow_decodes_it(tmp_path):
    for name, arr in (("g.jpg", GREY), ("c.jpeg", RGB)):
        Image.fromarray(arr).save(tmp_path / name, quality=70)
        with Image.open(tmp_path / name) as im:
            assert np.array_equal(read_image(tmp_path / name), np.asarray(im))


def test_unsupported_corrupt_truncated_and_missing_files_are_named(tmp_path):
    Image.fromarray(np.ones((4, 4), np.float32)).save(tmp_path / "f.tif")
    Image.fromarray(np.full((4, 4), 70000, np.int32), "I").save(tmp_path / "big.tif")
    Image.fromarray(RGB).save(tmp_path / "whole.png")
    data = (tmp_path / "whole.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.png").write_text("not an image")
    cases = {
        "f.tif": "unsupported",
        "big.tif": "exceed 16 bits",
        "cut.png": "truncated",
        "text.png": "corrupt or not an image",
        "missing.png": "not found",
    }
    for name, why in cases.items():
        with pytest.raises(ImageError, match=why) as err:
            read_image(tmp_path / name)
        assert name in str(err.value) and "\n" not in str(err.value)
        assert isinstance(err.value, SourceError)


def test_folder_source_reads_through_the_same_reader(tmp_path):
    frames = RNG.integers(0, 65536, (3, 10, 12)).astype(np.uint16)
    for i, f in enumerate(frames):
        Image.fromarray(f).save(tmp_path / f"f{i + 1}.png")
    with FolderSource(tmp_path) as src:
        got = [f.image for f in src]
    assert all(np.array_equal(g, read_image(tmp_path / f"f{i + 1}.png")) for i, g in enumerate(got))
    assert all(np.array_equal(g, (f >> 8).astype(np.uint8)) for g, f in zip(got, frames, strict=True))
