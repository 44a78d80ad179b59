"""Simulator v2: one parametric 3-D heart per subject, sliced by the imaging plane of a probe pose.

Each VIEWS.md view is a probe pose (position on the chest, plane orientation) with its spread; OTHER is
an off-axis or intermediate pose, liver, lung or a blank fan. Images come from evaluating the 3-D tissue
functions on the plane's points and the physics of :mod:`rtecho.synth.physics`.

>>> import numpy as np
>>> from rtecho.synth.heart3d import render_view
>>> render_view("PLAX", np.random.default_rng(0), size_hw=(64, 64)).dtype
dtype('uint8')
"""

from __future__ import annotations

from rtecho.synth.heart3d.anatomy import Heart, Subject, heart_at, random_subject
from rtecho.synth.heart3d.poses import Pose, label_pose, nominal_poses
from rtecho.synth.heart3d.render import Shot, render_stages, render_view

__all__ = [
    "Heart",
    "Pose",
    "Shot",
    "Subject",
    "heart_at",
    "label_pose",
    "nominal_poses",
    "random_subject",
    "render_stages",
    "render_view",
]
