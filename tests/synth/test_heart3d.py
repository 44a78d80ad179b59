"""Simulator v2 (3-D heart sliced by probe poses): every label renders, poses carry their labels, sweeps
change view, the LV mask comes from the 3-D LV, datasets keep the ImageFolder layout."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from rtecho.synth import SynthConfig, SynthError
from rtecho.synth.export import generate_dataset
from rtecho.synth.heart3d import (
    heart_at,
    label_pose,
    nominal_poses,
    random_subject,
    render_stages,
    render_view,
)
from rtecho.synth.heart3d.poses import plane_distance, pose_distance, sample_other_pose, sample_view_pose
from rtecho.synth.heart3d.render import lv_mask_image
from rtecho.synth.heart3d.sweep import render_sweep
from rtecho.views import VIEWS

BARE = SynthConfig(screen_prob=0.0, jpeg_prob=0.0, rib_shadow_prob=0.0)


@pytest.mark.parametrize("view", VIEWS)
def test_every_view_renders_gray_uint8_at_the_requested_size(view):
    for seed in range(2):
        img = render_view(view, np.random.default_rng([seed, 5]), size_hw=(96, 112))
        assert img.shape == (96, 112) and img.dtype == np.uint8
        assert img.max() > 50 and img.std() > 6


def test_same_seed_same_image_and_different_seed_differs():
    a = render_view("A4C", np.random.default_rng(7))
    b = render_view("A4C", np.random.default_rng(7))
    c = render_view("A4C", np.random.default_rng(8))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_sampled_poses_carry_their_view_and_other_poses_lie_away_from_every_view():
    rng = np.random.default_rng(0)
    for _ in range(3):
        subj = random_subject(rng)
        ed = heart_at(subj, 0.0)
        nominal = nominal_poses(ed)
        assert set(nominal) == set(VIEWS) - {"OTHER"}
        for v, q in nominal.items():
            lab, d = label_pose(q, nominal)
            assert lab == v and d < 1e-6
            assert label_pose(sample_view_pose(v, nominal, rng), nominal)[0] == v
        for _ in range(5):
            p = sample_other_pose(nominal, ed.marks["heart_c"], rng)
            assert min(pose_distance(p, q) for q in nominal.values()) > 1.6
            assert plane_distance(p, nominal) > 1.2


def test_standard_views_are_mutually_distinct_poses():
    nominal = nominal_poses(heart_at(random_subject(np.random.default_rng(1)), 0.0))
    for v, q in nominal.items():
        for w, r in nominal.items():
            if v != w:
                assert pose_distance(q, r) > 1.0, (v, w)


def test_a_sweep_is_a_session_with_true_view_changes():
    s = render_sweep(
        np.random.default_rng(3), ["A4C", "A2C", "A3C"], n_frames=30, size_hw=(64, 64), config=BARE
    )
    assert s.frames.shape == (30, 64, 64) and len(s.labels) == 30
    assert s.labels[0] == "A4C" and s.labels[-1] == "A3C"
    seen = [lab for i, lab in enumerate(s.labels) if i == 0 or lab != s.labels[i - 1]]
    assert [v for v in seen if v != "OTHER"] == ["A4C", "A2C", "A3C"]
    assert "OTHER" in s.labels  # the probe passes through intermediate planes
    assert len(s.changes()) >= 2
    assert not np.array_equal(s.frames[0], s.frames[-1])


def test_sweep_rejects_bad_arguments():
    with pytest.raises(SynthError):
        render_sweep(np.random.default_rng(0), ["A4C", "OTHER"], n_frames=10)
    with pytest.raises(SynthError):
        render_sweep(np.random.default_rng(0), ["A4C", "A2C"], n_frames=2)


@pytest.mark.parametrize("view", ["A4C", "A2C", "A3C"])
def test_lv_mask_from_the_3d_lv_is_the_dark_cavity_inside_the_wall_in_apical_views(view):
    for seed in range(3):
        cfg = SynthConfig(
            screen_prob=0.0,
            jpeg_prob=0.0,
            rib_shadow_prob=0.0,
            haze=(0.003, 0.006),
            clutter=(0.3, 0.8),
            gain_db=(-22.0, -12.0),
        )
        img, _, acq, shot = render_stages(view, np.random.default_rng([seed, 9]), (128, 128), cfg, phase=0.0)
        m = lv_mask_image(shot, acq)
        assert m.sum() > 150
        ring = (
            ndimage.binary_dilation(m, iterations=4) & ~ndimage.binary_dilation(m, iterations=1) & (img > 0)
        )
        assert img[m].mean() < 0.6 * img[ring].mean()  # the cavity is darker than the wall around it


def test_lv_mask_area_shrinks_in_systole():
    rng = np.random.default_rng(4)
    img, _, acq, shot = render_stages("A4C", rng, (128, 128), BARE, phase=0.0)
    from dataclasses import replace

    es = replace(shot, heart=heart_at(shot.heart.subject, 0.3))
    assert lv_mask_image(es, acq).sum() < 0.85 * lv_mask_image(shot, acq).sum()


def test_v2_dataset_keeps_the_imagefolder_layout(tmp_path):
    out = generate_dataset(tmp_path, ["A4C", "OTHER"], 2, (48, 48), seed=0, progress=False, sim="v2")
    assert sorted(p.name for p in (out / "stills").iterdir()) == ["A4C", "OTHER"]
    assert sorted(p.name for p in (out / "stills" / "A4C").iterdir()) == ["A4C_000000.png", "A4C_000001.png"]
    assert (out / "contact_sheet.png").is_file()


def test_unknown_simulator_is_a_clear_error(tmp_path):
    with pytest.raises(SynthError):
        generate_dataset(tmp_path, ["A4C"], 1, (48, 48), progress=False, sim="v3")


def test_synth_dataset_draws_from_the_chosen_simulator():
    pytest.importorskip("torch")
    from rtecho.train.data import DatasetError, SynthDataset

    v2 = SynthDataset(1, views=("A4C", "PLAX"), size_hw=(48, 48), sim="v2", cache=False)
    v1 = SynthDataset(1, views=("A4C", "PLAX"), size_hw=(48, 48), sim="v1", cache=False)
    a, b = v2.image(0), v1.image(0)
    assert a.shape == b.shape == (48, 48) and not np.array_equal(a, b)
    assert np.array_equal(a, v2.image(0))
    with pytest.raises(DatasetError):
        SynthDataset(1, views=("A4C",), sim="v9")


def test_v2_cine_masks_follow_the_cycle_and_landmarks_exist_only_for_the_long_axis():
    from rtecho.synth.heart3d.cine import render_cine

    c = render_cine(
        "A4C", np.random.default_rng(2), n_frames=30, fps=30, ef=60, heart_rate=70, size_hw=(96, 96)
    )
    area = c.lv_masks.sum(axis=(1, 2))
    assert c.volumes[c.ed_index] > c.volumes[c.es_index]
    assert area[c.ed_index] > 1.2 * area[c.es_index] > 0
    assert np.isfinite(c.lv_apex_xy).all() and np.isfinite(c.lv_base_xy).all()
    assert c.lv_apex_xy[:, 1].mean() < c.lv_base_xy[:, 1].mean()  # apex near the top of an apical view
    assert not np.array_equal(c.frames[0], c.frames[1])
    s = render_cine("PSAX-MV", np.random.default_rng(2), n_frames=2, size_hw=(64, 64), masks_only=True)
    assert np.isnan(s.lv_apex_xy).all() and s.lv_masks.any()


def test_v2_dataset_with_cines(tmp_path):
    pytest.importorskip("av")
    out = generate_dataset(
        tmp_path, ["A2C"], 1, (48, 48), seed=0, progress=False, cine=True, n_frames=4, sim="v2"
    )
    assert (out / "cines" / "SYN_A2C_000000.avi").is_file()
    assert (out / "cines" / "masks" / "SYN_A2C_000000.npz").is_file()


def test_primitives_are_signed_distances_near_their_surfaces():
    from rtecho.synth.heart3d.geometry import Ellipsoid, Torus, Tube

    f32 = np.float32
    sphere = Ellipsoid(np.zeros(3), np.array([2.0, 2.0, 2.0]), z_hi=1.0)
    P = (np.array([0.0, 2.5, 0.0, 0.0], f32), np.zeros(4, f32), np.array([0.0, 0.0, 1.5, -1.9], f32))
    d, n = sphere.sdf(P, normal=True)
    assert np.allclose(d, [-1.0, 0.5, 0.5, -0.1], atol=0.02)  # centre, outside, beyond the cut, inside
    assert np.allclose([n[0][1], n[2][2]], [1.0, 1.0], atol=1e-3)
    tube = Tube(np.array([[0.0, 0, 0], [0, 0, 5.0]]), np.array([1.0, 1.0]))
    assert np.allclose(
        tube.sdf(P)[0], [-1.0, 1.5, -1.0, 0.9], atol=1e-3
    )  # the last point lies 1.9 beyond an end
    ring = Torus(np.zeros(3), np.array([0.0, 0, 1.0]), 2.0, 0.2)
    assert np.allclose(ring.sdf(P)[0][:2], [1.8, 0.3], atol=1e-3)
