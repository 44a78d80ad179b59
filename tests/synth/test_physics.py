"""Speckle statistics of the image-formation model."""

from __future__ import annotations

import numpy as np
import pytest

from rtecho.synth.physics import BeamParams, FanGeometry, beam_grid, beamform, scan_convert

GEOM = FanGeometry((128, 128), (64.0, 0.0), 128.0, -40.0, 40.0, 15.0)


def _homogeneous(noise_db: float = -300.0, atten: float = 0.0, seed: int = 0):
    grid = beam_grid(GEOM)
    E = np.ones(grid.shape, np.float32)
    S = np.zeros_like(E)
    params = BeamParams(atten_db_cm=atten, noise_db=noise_db)
    return grid, beamform(E, S, grid, params, np.random.default_rng(seed))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_envelope_of_fully_developed_speckle_is_rayleigh(seed):
    grid, st = _homogeneous(seed=seed)
    core = st.envelope[grid.pad + 4 : -grid.pad - 4, 10:-10]
    ratio = core.mean() / core.std()
    assert 1.8 <= ratio <= 2.0, ratio


def test_specular_reflector_breaks_rayleigh_statistics():
    grid = beam_grid(GEOM)
    E = np.ones(grid.shape, np.float32)
    S = np.full(grid.shape, 3.0, np.float32)  # strong coherent component: Rician, not Rayleigh
    st = beamform(E, S, grid, BeamParams(atten_db_cm=0.0, noise_db=-300.0), np.random.default_rng(0))
    core = st.envelope[grid.pad + 4 : -grid.pad - 4, 10:-10]
    assert core.mean() / core.std() > 2.5


def test_attenuation_without_tgc_darkens_the_far_field():
    grid = beam_grid(GEOM)
    E = np.ones(grid.shape, np.float32)
    params = BeamParams(tgc_comp=0.0, noise_db=-300.0)
    st = beamform(E, np.zeros_like(E), grid, params, np.random.default_rng(0))
    n = grid.n_samples
    near, far = st.envelope[:, : n // 5].mean(), st.envelope[:, -n // 5 :].mean()
    assert far < 0.1 * near


def test_scan_conversion_leaves_outside_of_fan_black_and_fills_inside():
    grid, st = _homogeneous()
    img = scan_convert(st.polar, grid, GEOM)
    assert img.shape == (128, 128) and img.dtype == np.uint8
    assert img[5, 2] == 0 and img[5, 125] == 0  # outside the 80-degree sector, near the top
    assert img[100, 64] > 0
