"""DARTS genotypes: the cell descriptions that the networks are built from, stored as JSON.

A genotype lists, for each intermediate node of a cell, two ``(op, input)`` pairs; inputs 0 and 1
are the outputs of the two previous cells, input k >= 2 is intermediate node k - 2. ``*_concat``
lists the nodes concatenated into the cell output. Files are JSON (never ``eval``)::

    {"normal": [["sep_conv_3x3", 0], ["sep_conv_3x3", 1], ...], "normal_concat": [2, 3, 4, 5],
     "reduce": [["max_pool_3x3", 0], ...], "reduce_concat": [2, 3, 4, 5]}

>>> g = load_genotype("darts_v2")
>>> g.normal[0], g.steps
(('sep_conv_3x3', 0), 4)
>>> Genotype.from_dict(g.to_dict()) == g
True
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rtecho.errors import RtechoError
from rtecho.models.darts_ops import PRIMITIVES

#: Folder of the genotype files shipped with rtecho (``load_genotype("darts_v2")`` reads darts_v2.json).
GENOTYPE_DIR = Path(__file__).with_name("genotypes")

Edge = tuple[str, int]


class GenotypeError(RtechoError, ValueError):
    """A genotype (file) is malformed or names an unknown operation."""


def _check_cell(kind: str, edges: tuple[Edge, ...], concat: tuple[int, ...], steps: int) -> None:
    if len(edges) != 2 * steps:
        raise GenotypeError(f"{kind} cell has {len(edges)} edges; expected 2 per node ({2 * steps})")
    for i, (op, src) in enumerate(edges):
        if op not in PRIMITIVES or op == "none":
            known = ", ".join(p for p in PRIMITIVES if p != "none")
            raise GenotypeError(f"{kind} cell edge {i} names unknown op {op!r}; known ops: {known}")
        node = i // 2
        if not 0 <= src < node + 2:
            raise GenotypeError(f"{kind} cell edge {i}: input {src} is not an earlier node (0..{node + 1})")
    if not concat or any(not 2 <= c < steps + 2 for c in concat) or len(set(concat)) != len(concat):
        raise GenotypeError(
            f"{kind}_concat {list(concat)} must be distinct intermediate nodes in 2..{steps + 1}"
        )


@dataclass(frozen=True)
class Genotype:
    """A normal and (optionally, empty) a reduction cell; validated on creation."""

    normal: tuple[Edge, ...]
    normal_concat: tuple[int, ...]
    reduce: tuple[Edge, ...] = ()
    reduce_concat: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        for key in ("normal", "reduce"):
            edges = getattr(self, key)
            try:
                edges = tuple((str(op), int(src)) for op, src in edges)
            except (TypeError, ValueError):
                raise GenotypeError(f"{key} must be a list of [op, input] pairs, got {edges!r}") from None
            object.__setattr__(self, key, edges)
        for key in ("normal_concat", "reduce_concat"):
            try:
                object.__setattr__(self, key, tuple(int(c) for c in getattr(self, key)))
            except (TypeError, ValueError):
                raise GenotypeError(f"{key} must be a list of node indices") from None
        if len(self.normal) < 2 or len(self.normal) % 2:
            raise GenotypeError(f"normal cell needs 2 edges per node, got {len(self.normal)} edges")
        _check_cell("normal", self.normal, self.normal_concat, self.steps)
        if self.reduce:
            _check_cell("reduce", self.reduce, self.reduce_concat, self.steps)

    @property
    def steps(self) -> int:
        """Number of intermediate nodes per cell."""
        return len(self.normal) // 2

    @property
    def has_reduce(self) -> bool:
        return bool(self.reduce)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (lists, not tuples)."""
        return {
            "normal": [[op, src] for op, src in self.normal],
            "normal_concat": list(self.normal_concat),
            "reduce": [[op, src] for op, src in self.reduce],
            "reduce_concat": list(self.reduce_concat),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Genotype:
        """Build from a dict as written by :meth:`to_dict` (extra keys such as ``note`` are ignored)."""
        if not isinstance(d, Mapping) or "normal" not in d:
            raise GenotypeError("a genotype must be a JSON object with at least 'normal' and 'normal_concat'")
        return cls(
            normal=d["normal"],
            normal_concat=d.get("normal_concat", ()),
            reduce=d.get("reduce") or (),
            reduce_concat=d.get("reduce_concat") or (),
        )


def save_genotype(genotype: Genotype, path: str | Path, note: str = "") -> Path:
    """Write ``genotype`` as JSON (with an optional provenance ``note``); returns the path."""
    path = Path(path)
    d = genotype.to_dict()
    if note:
        d["note"] = note
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in d.items()]
    path.write_text("{\n" + ",\n".join(lines) + "\n}\n")
    return path


def load_genotype(source: str | Path | Mapping[str, Any] | Genotype) -> Genotype:
    """Genotype from a shipped name (``"darts_v2"``), a JSON file path, a dict, or a Genotype."""
    if isinstance(source, Genotype):
        return source
    if isinstance(source, Mapping):
        return Genotype.from_dict(source)
    path = Path(source)
    if not path.suffix and not path.exists():
        path = GENOTYPE_DIR / f"{source}.json"
        if not path.exists():
            known = ", ".join(shipped_genotypes())
            raise GenotypeError(f"no shipped genotype named {str(source)!r}; shipped: {known}")
    try:
        d = json.loads(path.read_text())
    except FileNotFoundError:
        raise GenotypeError(f"genotype file not found: {path}") from None
    except json.JSONDecodeError as exc:
        raise GenotypeError(f"genotype file {path} is not valid JSON: {exc}") from None
    try:
        return Genotype.from_dict(d)
    except GenotypeError as exc:
        raise GenotypeError(f"{path}: {exc}") from None


def shipped_genotypes() -> list[str]:
    """Names of the genotype files shipped in :data:`GENOTYPE_DIR`."""
    return sorted(p.stem for p in GENOTYPE_DIR.glob("*.json"))


def _cell(pairs: Sequence[tuple[str, int]]) -> tuple[Edge, ...]:
    return tuple(pairs)


#: DARTS-V2 (second order), Liu et al. 2019, as published in the reference code (genotypes.py).
DARTS_V2 = Genotype(
    normal=_cell(
        [
            ("sep_conv_3x3", 0),
            ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 0),
            ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 1),
            ("skip_connect", 0),
            ("skip_connect", 0),
            ("dil_conv_3x3", 2),
        ]
    ),
    normal_concat=(2, 3, 4, 5),
    reduce=_cell(
        [
            ("max_pool_3x3", 0),
            ("max_pool_3x3", 1),
            ("skip_connect", 2),
            ("max_pool_3x3", 1),
            ("max_pool_3x3", 0),
            ("skip_connect", 2),
            ("skip_connect", 2),
            ("max_pool_3x3", 1),
        ]
    ),
    reduce_concat=(2, 3, 4, 5),
)

#: UIAC's searched normal block (Zeng et al. 2021). Their nodes n1, n2 are the cell inputs (0, 1)
#: and n3 is the first intermediate node (2): node3 = skip(n1) + dil5(n2); node4 = dil3(n1) + sep3(n2);
#: node5 = dil5(n1) + sep5(n2); node6 = dil5(n1) + dil5(n3). The reduction block was not published.
UIAC_NORMAL: tuple[Edge, ...] = _cell(
    [
        ("skip_connect", 0),
        ("dil_conv_5x5", 1),
        ("dil_conv_3x3", 0),
        ("sep_conv_3x3", 1),
        ("dil_conv_5x5", 0),
        ("sep_conv_5x5", 1),
        ("dil_conv_5x5", 0),
        ("dil_conv_5x5", 2),
    ]
)
