"""Canonical echocardiography view labels (shared/VIEWS.md) and their coarse groups.

>>> coarse("PSAX-MV")
'PSAX'
>>> VIEWS[:4]
('A2C', 'A3C', 'A4C', 'A5C')
"""

from __future__ import annotations

#: Fine view labels, spelled exactly as in VIEWS.md, in canonical order.
VIEWS: tuple[str, ...] = (
    "A2C",
    "A3C",
    "A4C",
    "A5C",
    "PLAX",
    "PSAX-AV",
    "PSAX-MV",
    "PSAX-PM",
    "PSAX-AP",
    "SC4C",
    "SCIVC",
    "SSN",
    "OTHER",
)

#: Fine label -> coarse label (what ``--coarse`` evaluation maps to).
COARSE: dict[str, str] = {
    "A2C": "A2C",
    "A3C": "A3C",
    "A4C": "A4C",
    "A5C": "A5C",
    "PLAX": "PLAX",
    "PSAX-AV": "PSAX",
    "PSAX-MV": "PSAX",
    "PSAX-PM": "PSAX",
    "PSAX-AP": "PSAX",
    "SC4C": "SUBCOSTAL",
    "SCIVC": "SUBCOSTAL",
    "SSN": "SSN",
    "OTHER": "OTHER",
}

#: Coarse labels in canonical order.
COARSE_VIEWS: tuple[str, ...] = tuple(dict.fromkeys(COARSE.values()))

#: Screen modes that are not a view: the stream reports them instead of a view label.
MODES: tuple[str, ...] = ("bmode", "color_doppler", "spectral_doppler", "mmode", "frozen", "blank")


def coarse(label: str) -> str:
    """Map a fine view label (or an already coarse one) to its coarse label."""
    if label in COARSE:
        return COARSE[label]
    if label in COARSE_VIEWS:
        return label
    raise ValueError(f"unknown view label {label!r}; known: {', '.join(VIEWS)}")


def check_labels(labels: tuple[str, ...] | list[str]) -> None:
    """Raise ValueError unless every label is a canonical fine or coarse label, without duplicates."""
    unknown = [x for x in labels if x not in COARSE and x not in COARSE_VIEWS]
    if unknown:
        raise ValueError(f"unknown view label(s) {unknown}; known: {', '.join(VIEWS)}")
    if len(set(labels)) != len(labels):
        raise ValueError(f"duplicate view labels in {list(labels)}")
