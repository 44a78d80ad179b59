"""Finding a model file (or a variant file) and its card, and checking that they belong together (sha256)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from rtecho.card import ModelCard, Variant, card_path_for
from rtecho.errors import EngineError, ModelCardError

_HASH_CACHE: dict[tuple[str, int, int], str] = {}


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, cached per (path, size, mtime)."""
    path = Path(path)
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASH_CACHE:
        h = hashlib.sha256()
        with path.open("rb") as f:
            while block := f.read(chunk):
                h.update(block)
        _HASH_CACHE[key] = h.hexdigest()
    return _HASH_CACHE[key]


def engine_dirs() -> list[Path]:
    """Where model names are looked up: $RTECHO_ENGINES (os.pathsep-separated), ./engines, the repo's engines/."""
    dirs = [Path(p) for p in os.environ.get("RTECHO_ENGINES", "").split(os.pathsep) if p]
    dirs.append(Path.cwd() / "engines")
    dirs.append(Path(__file__).resolve().parents[2] / "engines")
    dirs.append(Path(__file__).resolve().parents[1] / "data")
    seen: list[Path] = []
    for d in dirs:
        if d not in seen:
            seen.append(d)
    return seen


def list_models() -> list[Path]:
    """Every ONNX model with a card in the engine directories (first occurrence of each name)."""
    found: dict[str, Path] = {}
    for d in engine_dirs():
        if d.is_dir():
            for p in sorted(d.glob("*.onnx")):
                if "." not in p.stem and card_path_for(p).is_file():
                    found.setdefault(p.stem, p)
    return list(found.values())


def resolve_model(path_or_name: str | Path) -> Path:
    """Return the ONNX path for a file path or a model name found in :func:`engine_dirs`."""
    p = Path(path_or_name)
    if p.is_file():
        return p
    if p.suffix == "" and p.parent == Path("."):
        for d in engine_dirs():
            cand = d / f"{p.name}.onnx"
            if cand.is_file():
                return cand
    if p.exists():
        raise EngineError(f"model path {p} is not a file")
    names = ", ".join(m.stem for m in list_models()) or "none"
    raise EngineError(f"model {str(path_or_name)!r} not found (not a file; known model names: {names})")


def card_path_of(model_path: Path) -> Path:
    """The card of a model file or of one of its variants: ``NAME.json`` beside ``NAME.onnx``, and for a
    variant file ``NAME.TAG.onnx`` (``darts1.int8.onnx``) the first ``NAME.json`` found by dropping
    dotted parts from the end of the name (the variant rule; the card then records the file)."""
    own = card_path_for(model_path)
    if own.is_file():
        return own
    parts = model_path.name.split(".")
    for k in range(len(parts) - 2, 0, -1):
        cand = model_path.with_name(".".join(parts[:k]) + ".json")
        if cand.is_file():
            return cand
    return own


@dataclass(frozen=True)
class ModelFile:
    """A model found on disk: ``path`` (the fp32 model ``NAME.onnx``), its ``card`` and, when a variant
    file was named (``NAME.int8.onnx``), that ``file`` and its card entry ``variant`` (tag, Variant)."""

    path: Path
    card: ModelCard
    file: Path | None = None
    variant: tuple[str, Variant] | None = None


def open_model(path_or_name: str | Path, verify: bool = True) -> ModelFile:
    """Find a model file (a path, a variant file, or a name in :func:`engine_dirs`) and its card;
    with ``verify`` check the named file's sha256 against the card."""
    path = resolve_model(path_or_name)
    card_path = card_path_of(path)
    if card_path == card_path_for(path):
        return ModelFile(path, load_card(path, verify=verify))
    card = _read_card(path, card_path)
    found = card.variant_for_file(path.name)
    if found is None:
        recorded = ", ".join(v.file for v in card.variants.values()) or "none"
        raise EngineError(
            f"{path.name} is not a variant recorded in {card_path.name} (recorded variants: {recorded}); "
            "re-create it with `rtecho calibrate` or `rtecho build`"
        )
    if verify and sha256_file(path) != found[1].sha256:
        raise EngineError(
            f"{path} does not match the {found[0]} variant in {card_path.name}: sha256 differs "
            "(damaged or replaced file; re-create the variant)"
        )
    return ModelFile(card_path.with_suffix(".onnx"), card, path, found)


def _read_card(model_path: Path, card_path: Path) -> ModelCard:
    try:
        return ModelCard.load(card_path)
    except ModelCardError as exc:
        raise EngineError(f"cannot load the model card of {model_path}: {exc}") from None


def load_card(model_path: Path, verify: bool = True) -> ModelCard:
    """Load the card beside ``model_path`` and check the file's sha256 against it."""
    card_path = card_path_for(model_path)
    card = _read_card(model_path, card_path)
    if verify and card.onnx_sha256 is not None:
        actual = sha256_file(model_path)
        if actual != card.onnx_sha256:
            raise EngineError(
                f"{model_path} does not match its model card {card_path.name}: sha256 {actual[:12]}... "
                f"!= {card.onnx_sha256[:12]}... (damaged or replaced file; re-export the model)"
            )
    return card
