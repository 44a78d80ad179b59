"""Labelled folders (``root/LABEL/*.png``, ``root/LABEL/clip.mp4``): the one scanner behind training,
search, evaluation and calibration sets.

A label is a view label of VIEWS.md (``rtecho.views``). Files are listed recursively below each
label folder, in natural order of their path (``A4C/2.png`` before ``A4C/10.png``); hidden files
and folders are skipped, so the same folder always gives the same list.

>>> scan_labelled("data/views")  # doctest: +SKIP
[Sample(path=PosixPath('data/views/A4C/1.png'), label='A4C', kind='image'), ...]
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rtecho.errors import SourceError
from rtecho.io.image import IMAGE_EXTENSIONS, list_files, natural_key
from rtecho.views import COARSE_VIEWS, VIEWS, coarse

log = logging.getLogger(__name__)

#: clips (scored or sampled frame by frame, read through :func:`rtecho.io.open_source`)
CLIP_EXTENSIONS: frozenset[str] = frozenset({".mp4", ".avi", ".mov", ".mkv", ".gif", ".dcm"})
#: numpy arrays of uint8 frames (HxW, HxWx3 or a stack NxHxW): calibration sets only
ARRAY_EXTENSIONS: frozenset[str] = frozenset({".npy"})


class DatasetError(SourceError, ValueError):
    """A data folder is missing, empty or mislabelled, or an item cannot be read."""


@dataclass(frozen=True)
class Sample:
    """One item of a data folder: ``kind`` is ``"image"``, ``"clip"`` or ``"array"``; ``label`` may
    be None only in a scan with ``require_labels=False``."""

    path: Path
    label: str | None
    kind: str


def kind_of(path: Path) -> str:
    """``"image"``, ``"clip"`` or ``"array"`` from the file suffix."""
    suffix = path.suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    return "array" if suffix in ARRAY_EXTENSIONS else "clip"


def folder_label(name: str, root: Path, use_coarse: bool = False) -> str:
    """The label a folder name stands for; DatasetError (with a close match as a hint) when none."""
    if name in VIEWS:
        return coarse(name) if use_coarse else name
    if name in COARSE_VIEWS:
        if use_coarse:
            return name
        raise DatasetError(
            f"folder {name!r} in {root} is a coarse label; evaluate with --coarse or use fine labels"
        )
    hint = difflib.get_close_matches(name.upper(), list(VIEWS) + list(COARSE_VIEWS), n=1)
    did = f" (did you mean {hint[0]!r}?)" if hint else ""
    raise DatasetError(
        f"folder {name!r} in {root} is not a view label{did}; subfolders must be VIEWS.md labels: {', '.join(VIEWS)}"
    )


def label_order(labels: Iterable[str], use_coarse: bool = False) -> tuple[str, ...]:
    """The distinct ``labels`` in canonical order (VIEWS.md, or its coarse groups)."""
    present = set(labels)
    return tuple(v for v in (COARSE_VIEWS if use_coarse else VIEWS) if v in present)


def _suffixes(clips: bool, arrays: bool) -> frozenset[str]:
    return (
        IMAGE_EXTENSIONS
        | (CLIP_EXTENSIONS if clips else frozenset())
        | (ARRAY_EXTENSIONS if arrays else frozenset())
    )


def scan_labelled(
    root: str | Path,
    *,
    use_coarse: bool = False,
    clips: bool = True,
    arrays: bool = False,
    require_labels: bool = True,
) -> list[Sample]:
    """The items of a labelled folder, in natural order; DatasetError when it is unusable.

    ``require_labels=True`` (training, search, evaluation): every subfolder of ``root`` must be a view
    label (with ``use_coarse``, coarse labels too, and every label maps to its coarse one); files
    directly in ``root`` are ignored. ``require_labels=False`` (calibration sets): every file below
    ``root`` counts, labelled by the folder holding it (``root`` itself included) when that folder's
    name is a view label in any case (``a4c/`` -> ``A4C``), else None.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"data folder not found: {root}")
    suffixes = _suffixes(clips, arrays)
    what = ", ".join(sorted(suffixes))
    if not require_labels:
        upper = {v.upper(): v for v in VIEWS}
        samples = []
        for path in list_files(root, suffixes, recursive=True):
            label = upper.get(path.parent.name.upper())
            if label is not None and use_coarse:
                label = coarse(label)
            samples.append(Sample(path, label, kind_of(path)))
        if not samples:
            raise DatasetError(f"data folder {root} holds no frames ({what})")
        return samples
    try:
        subdirs = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    except OSError as exc:
        raise DatasetError(f"cannot list data folder {root}: {exc.strerror or exc}") from exc
    if not subdirs:
        raise DatasetError(f"data folder {root} has no label subfolders (expected e.g. {root}/A4C/*.png)")
    samples = []
    for sub in sorted(subdirs, key=lambda p: natural_key(p.name)):
        label = folder_label(sub.name, root, use_coarse)
        found = list_files(sub, suffixes, recursive=True)
        if not found:
            log.warning("label folder %s holds no images%s", sub, " or clips" if clips else "")
        samples.extend(Sample(path, label, kind_of(path)) for path in found)
    if not samples:
        kinds = "images or clips" if clips else "images"
        raise DatasetError(f"data folder {root} holds no {kinds} ({what})")
    return samples
