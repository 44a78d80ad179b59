"""Simulator configuration and argument validation."""

from __future__ import annotations

from dataclasses import dataclass

from rtecho.errors import RtechoError
from rtecho.views import VIEWS

Range = tuple[float, float]


class SynthError(RtechoError, ValueError):
    """Bad simulator argument (unknown view, bad size, EF out of range, ...)."""


def check_view(view: str) -> str:
    """Return ``view`` if it is a VIEWS.md label, else raise :class:`SynthError`."""
    if view not in VIEWS:
        raise SynthError(f"unknown view {view!r}; known: {', '.join(VIEWS)}")
    return view


def check_size(size_hw: tuple[int, int] | list[int]) -> tuple[int, int]:
    """Return ``size_hw`` as a (H, W) tuple of ints in [16, 4096], else raise :class:`SynthError`."""
    try:
        h, w = (int(v) for v in size_hw)
    except (TypeError, ValueError) as exc:
        raise SynthError(f"size_hw must be two integers (H, W), got {size_hw!r}") from exc
    if not (16 <= h <= 4096 and 16 <= w <= 4096):
        raise SynthError(f"size_hw must be between 16 and 4096 pixels per side, got {(h, w)}")
    return h, w


def check_ef(ef: float) -> float:
    """Return ``ef`` (percent) if within 5-90, else raise :class:`SynthError`."""
    if not (5.0 <= float(ef) <= 90.0):
        raise SynthError(f"EF must be between 5 and 90 percent, got {ef}")
    return float(ef)


def _check_range(name: str, r: Range, lo: float, hi: float) -> None:
    if len(r) != 2 or not (lo <= r[0] <= r[1] <= hi):
        raise SynthError(f"{name} must be a (low, high) range within [{lo}, {hi}], got {r}")


@dataclass(frozen=True)
class SynthConfig:
    """Randomisation ranges and options of the simulator (every field has a sensible default).

    >>> SynthConfig(size_hw=(112, 112)).size_hw
    (112, 112)
    """

    size_hw: tuple[int, int] = (128, 128)
    sector_deg: Range = (65.0, 100.0)
    depth_margin_cm: Range = (0.0, 3.5)
    gain_db: Range = (-24.0, -7.0)
    dynamic_range_db: Range = (40.0, 62.0)
    noise_db: Range = (-75.0, -55.0)
    speckle_scale: Range = (0.4, 1.1)
    heart_shift_cm: float = 1.0
    heart_rot_deg: float = 12.0
    heart_scale: Range = (0.8, 1.1)
    radius_frac: Range = (0.8, 1.15)
    apex_y_frac: Range = (-0.08, 0.04)
    apex_x_jitter_frac: float = 0.04
    tgc_jitter_db: float = 4.0
    rib_shadow_prob: float = 0.15
    dropout_prob: float = 0.5
    clutter: Range = (0.3, 1.4)
    jpeg_prob: float = 0.3
    jpeg_quality: Range = (35.0, 95.0)
    furniture: bool = True
    furniture_prob: float = 0.5
    doppler_prob: float = 0.1
    nonbmode_prob: float = 0.0
    # realism: soft tissue look, randomised per acquisition (none of these defines a view)
    background_gain: Range = (0.3, 1.5)
    haze: Range = (0.003, 0.025)
    soften_cm: Range = (0.05, 0.25)
    spec_gain: Range = (0.5, 1.3)
    post_blur_px: Range = (0.0, 0.8)
    warp_cm: Range = (0.06, 0.3)
    # framing of stills from render_view: a wider screen with margins (and furniture) resized to size_hw
    screen_prob: float = 0.5
    screen_aspect: Range = (1.0, 1.6)

    def __post_init__(self) -> None:
        object.__setattr__(self, "size_hw", check_size(self.size_hw))
        _check_range("sector_deg", self.sector_deg, 20.0, 120.0)
        _check_range("dynamic_range_db", self.dynamic_range_db, 10.0, 100.0)
        _check_range("speckle_scale", self.speckle_scale, 0.3, 4.0)
        _check_range("heart_scale", self.heart_scale, 0.3, 3.0)
        _check_range("radius_frac", self.radius_frac, 0.2, 3.0)
        _check_range("jpeg_quality", self.jpeg_quality, 5.0, 100.0)
        _check_range("clutter", self.clutter, 0.0, 10.0)
        _check_range("background_gain", self.background_gain, 0.0, 20.0)
        _check_range("haze", self.haze, 0.0, 2.0)
        _check_range("soften_cm", self.soften_cm, 0.0, 2.0)
        _check_range("spec_gain", self.spec_gain, 0.0, 5.0)
        _check_range("post_blur_px", self.post_blur_px, 0.0, 10.0)
        _check_range("warp_cm", self.warp_cm, 0.0, 1.0)
        _check_range("screen_aspect", self.screen_aspect, 0.5, 3.0)
        for name in (
            "rib_shadow_prob",
            "dropout_prob",
            "jpeg_prob",
            "furniture_prob",
            "doppler_prob",
            "nonbmode_prob",
            "screen_prob",
        ):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise SynthError(f"{name} must be a probability in [0, 1], got {v}")
