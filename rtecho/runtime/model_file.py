"""Finding a model file and its card, and checking that they belong together (sha256)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from rtecho.errors import EngineError, ModelCardError
from rtecho.types import ModelCard, card_path_for

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


def variant_path(model_path: Path, precision: str) -> Path:
    """The file of a precision variant: ``NAME.onnx`` for fp32, ``NAME.int8.onnx`` etc. otherwise."""
    return model_path if precision == "fp32" else model_path.with_name(f"{model_path.stem}.{precision}.onnx")


def load_card(model_path: Path, verify: bool = True) -> ModelCard:
    """Load the card beside ``model_path`` and check the file's sha256 against it."""
    card_path = card_path_for(model_path)
    try:
        card = ModelCard.load(card_path)
    except ModelCardError as exc:
        raise EngineError(f"cannot load the model card of {model_path}: {exc}") from None
    if verify and card.onnx_sha256 is not None:
        actual = sha256_file(model_path)
        if actual != card.onnx_sha256:
            raise EngineError(
                f"{model_path} does not match its model card {card_path.name}: sha256 {actual[:12]}... "
                f"!= {card.onnx_sha256[:12]}... (damaged or replaced file; re-export the model)"
            )
    return card


def check_variant(model_path: Path, card: ModelCard, precision: str) -> Path:
    """Path of a precision variant, verified against the sha256 the card records for it."""
    path = variant_path(model_path, precision)
    if not path.is_file():
        raise EngineError(
            f"no {precision} variant of {card.name!r} at {path}; "
            f"build it with `rtecho calibrate {card.name}` (int8) or use --precision fp32"
        )
    expected = card.extra.get("variants", {}).get(precision, {}).get("sha256")
    if expected is not None and sha256_file(path) != expected:
        raise EngineError(
            f"{path} does not match the sha256 recorded in {card.name}'s card (damaged or replaced)"
        )
    return path
