"""The model card: what the runtime needs to preprocess for, run, and describe an exported model.

A card is JSON beside the model file (``engines/NAME.json`` next to ``engines/NAME.onnx``). Two of
its sections are typed and validated on load: ``variants`` (precision variants of the model, each a
file with its sha256 and how it was made) and ``calibration`` (temperature and the thresholds that
reject unknown frames). ``extra`` holds what only describes the model (exporter, opset, reports).

>>> card = ModelCard.from_dict({"name": "m", "architecture": "cnn", "labels": ["A2C", "A4C"],
...     "input_size_hw": [64, 64], "calibration": {"temperature": 1.5}})
>>> card.calibration.temperature, card.variants
(1.5, {})

Cards written before the sections existed (``extra.variants``, ``extra.calibration``) load too: the
sections are read from ``extra`` and saved in the new place the next time the card is written.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from rtecho.errors import ModelCardError
from rtecho.views import check_labels

#: What a model card's network can give (``ModelCard.task``).
TASKS: tuple[str, ...] = ("classification", "segmentation")
#: Precisions an engine can run; every one but fp32 may have a variant file of its own.
PRECISIONS: tuple[str, ...] = ("fp32", "fp16", "bf16", "int8")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _fields(cls: type, d: Any, what: str) -> dict[str, Any]:
    """``d`` as keyword arguments of the dataclass ``cls``; ModelCardError naming ``what`` otherwise."""
    if not isinstance(d, Mapping):
        raise ModelCardError(f"{what} must be a JSON object, got {type(d).__name__}")
    unknown = set(d) - {f.name for f in fields(cls)}
    if unknown:
        raise ModelCardError(f"{what} has unknown field(s) {sorted(unknown)}")
    return dict(d)


def _build(cls: type, kw: Mapping[str, Any], what: str) -> Any:
    try:
        return cls(**kw)
    except TypeError as exc:
        raise ModelCardError(f"{what} is incomplete: {exc}") from None
    except ModelCardError as exc:
        raise ModelCardError(f"{what}: {exc}") from None


@dataclass(frozen=True)
class Quantisation:
    """How an INT8 variant is quantised: the arguments of :func:`rtecho.runtime.precision.quantize_qdq`.

    Weights are always symmetric s8. ``activation_type`` is ``s8`` (symmetric, zero point 0) or ``u8``
    (asymmetric); ``reduce_range`` (7-bit weights) is None on cards written before it was recorded;
    ``op_types`` None quantises every op type; ``float_tail`` keeps the last N graph nodes in float.
    """

    activation_type: str = "s8"
    per_channel: bool = True
    quantize_bias: bool = True
    reduce_range: bool | None = True
    op_types: tuple[str, ...] | None = None
    float_tail: int = 0

    def __post_init__(self) -> None:
        if self.activation_type not in ("s8", "u8"):
            raise ModelCardError(f"activation_type must be 's8' or 'u8', got {self.activation_type!r}")
        if self.op_types is not None:
            object.__setattr__(self, "op_types", tuple(self.op_types))
        if not (isinstance(self.float_tail, int) and self.float_tail >= 0):
            raise ModelCardError(f"float_tail must be an integer >= 0, got {self.float_tail!r}")

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``quantize_qdq`` (an unrecorded ``reduce_range`` takes its default)."""
        kw = dataclasses.asdict(self)
        return {k: v for k, v in kw.items() if v is not None}

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["op_types"] = list(self.op_types) if self.op_types is not None else None
        return d


@dataclass(frozen=True)
class CalibrationFrames:
    """Where an INT8 variant's activation ranges came from: ``frames`` files of folder ``set``."""

    set: str
    frames: int
    seed: int | None = None
    files_sha256: str | None = None
    method: str = "minmax"

    def __post_init__(self) -> None:
        if not (isinstance(self.frames, int) and self.frames >= 1):
            raise ModelCardError(f"calibration frames must be a positive count, got {self.frames!r}")


@dataclass(frozen=True)
class Variant:
    """One precision variant of a model: ``file`` (beside the model) with its ``sha256``.

    ``backend`` is the backend the variant was made for; ``format`` how precision is held (``fp16``
    graph, ``qdq`` INT8 nodes); ``quantisation`` and ``calibration`` how an INT8 variant was made;
    ``check`` the fp32-vs-variant figures measured when it was made; ``slower_than_fp32`` the
    backends on which the bench measured it no faster than fp32 (``{backend: {infer_ms, ...}}``).
    """

    file: str
    sha256: str
    precision: str
    format: str
    backend: str | None = None
    quantisation: Quantisation | None = None
    calibration: CalibrationFrames | None = None
    check: Mapping[str, Any] = field(default_factory=dict)
    slower_than_fp32: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.file or Path(self.file).name != self.file:
            raise ModelCardError(f"variant file must be a file name beside the model, got {self.file!r}")
        if not (isinstance(self.sha256, str) and _SHA256.fullmatch(self.sha256)):
            raise ModelCardError(f"variant {self.file}: sha256 is not a sha256 hex digest")
        if self.precision not in PRECISIONS[1:]:
            raise ModelCardError(
                f"variant {self.file}: precision must be one of {PRECISIONS[1:]}, got {self.precision!r}"
            )
        if self.precision == "int8" and self.quantisation is None:
            raise ModelCardError(f"variant {self.file}: an int8 variant needs its quantisation settings")

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"file": self.file, "sha256": self.sha256, "precision": self.precision}
        d["format"] = self.format
        if self.backend is not None:
            d["backend"] = self.backend
        if self.quantisation is not None:
            d["quantisation"] = self.quantisation.to_dict()
        if self.calibration is not None:
            d["calibration"] = dataclasses.asdict(self.calibration)
        for key in ("check", "slower_than_fp32"):
            if getattr(self, key):
                d[key] = json.loads(json.dumps(getattr(self, key)))
        return d

    @classmethod
    def from_dict(cls, d: Any, key: str = "?") -> Variant:
        what = f"variant {key!r}"
        old = isinstance(d, Mapping) and "precision" not in d
        kw = _fields(cls, _old_variant(d, key) if old else d, what)
        if kw.get("quantisation") is not None:
            kw["quantisation"] = _build(
                Quantisation, _fields(Quantisation, kw["quantisation"], f"{what} quantisation"), what
            )
        if kw.get("calibration") is not None:
            kw["calibration"] = _build(
                CalibrationFrames, _fields(CalibrationFrames, kw["calibration"], f"{what} calibration"), what
            )
        return _build(cls, kw, what)


def _old_variant(d: Mapping[str, Any], key: str) -> dict[str, Any]:
    """A variant in the layout before typed sections (flat settings, ``tuned_for``) in the new one."""
    old = dict(d)
    new: dict[str, Any] = {k: old.pop(k) for k in ("file", "sha256", "calibration", "check") if k in old}
    new["precision"] = key.split("-")[0]
    new["format"] = old.pop("format", "fp16" if new["precision"] == "fp16" else "qdq")
    new["backend"] = old.pop("tuned_for", None)
    new["slower_than_fp32"] = old.pop("slower_than_fp32", {})
    if new["precision"] == "int8":
        op_types = old.pop("op_types", "all")
        new["quantisation"] = {
            "activation_type": old.pop("activations", "s8"),
            "per_channel": old.pop("per_channel", True),
            "reduce_range": old.pop("reduce_range", None),
            "op_types": None if op_types == "all" else op_types,
            "float_tail": old.pop("float_tail_nodes", 0),
        }
    if "calibration_frames" in old and "calibration" not in new:  # a count without its set's name
        new["calibration"] = {"set": "unrecorded", "frames": int(old.pop("calibration_frames"))}
    for implied in ("weights", "symmetric_activations", "io", "activations", "per_channel"):
        old.pop(implied, None)
    if old:
        raise ModelCardError(f"variant {key!r} has unknown field(s) {sorted(old)}")
    return new


@dataclass(frozen=True)
class ConfidenceCalibration:
    """Temperature and unknown-rejection thresholds (the card's ``calibration`` section).

    A frame's probabilities are ``softmax(logits / temperature)``; it is accepted when the top one is
    at least ``conf_threshold`` and their entropy at most ``entropy_threshold`` (JSON null: no limit).
    ``ece_before``/``ece_after`` are the expected calibration errors on the ``n_val`` fitting frames.
    :class:`rtecho.ultrasound.calibration.Calibration` adds the maths.
    """

    temperature: float = 1.0
    conf_threshold: float = 0.0
    entropy_threshold: float = math.inf
    ece_before: float | None = None
    ece_after: float | None = None
    n_val: int = 0

    def __post_init__(self) -> None:
        try:
            ok = math.isfinite(self.temperature) and self.temperature > 0
        except TypeError:
            ok = False
        if not ok:
            raise ModelCardError(f"calibration temperature must be positive, got {self.temperature!r}")
        if not 0.0 <= self.conf_threshold <= 1.0:
            raise ModelCardError(f"calibration conf_threshold must be in [0, 1], got {self.conf_threshold}")
        if not self.entropy_threshold >= 0:
            raise ModelCardError(f"calibration entropy_threshold must be >= 0, got {self.entropy_threshold}")

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(ConfidenceCalibration)}
        if math.isinf(self.entropy_threshold):
            d["entropy_threshold"] = None
        return d

    @classmethod
    def from_dict(cls, d: Any) -> Any:
        kw = _fields(ConfidenceCalibration, d, "calibration")
        if kw.get("entropy_threshold") is None:
            kw["entropy_threshold"] = math.inf
        return _build(cls, kw, "calibration")


@dataclass(frozen=True)
class ModelCard:
    """Everything the runtime needs to preprocess for, and describe, an exported model.

    ``mean``/``std`` are per channel on the 0..1 scale; ``input_size_hw`` is the network input.
    ``equalize``: the Preprocessor equalises each frame's in-sector grey levels by their own CDF at
    network size before normalising (:func:`rtecho.runtime.preprocess.equalize`); written to the
    JSON only when set, so cards without it are unchanged.
    ``task`` says what the network gives: ``classification`` (logits over ``labels``, view labels) or
    ``segmentation`` (per-pixel logits over ``labels``, e.g. ``("background", "LV")``). ``variants``
    maps a variant's tag (the middle of its file name ``NAME.TAG.onnx``) to its :class:`Variant`.
    """

    name: str
    architecture: str
    labels: tuple[str, ...]
    input_size_hw: tuple[int, int]
    channels: int = 1
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    genotype: Mapping[str, Any] | None = None
    params: int | None = None
    flops: int | None = None
    onnx_sha256: str | None = None
    rtecho_version: str | None = None
    training_data: str = ""
    metrics: Mapping[str, Any] = field(default_factory=dict)
    trained: bool = True
    description: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    task: str = "classification"
    variants: Mapping[str, Variant] = field(default_factory=dict)
    calibration: ConfidenceCalibration | None = None
    equalize: bool = False

    def __post_init__(self) -> None:
        if not self.name:
            raise ModelCardError("model card needs a name")
        if self.task not in TASKS:
            raise ModelCardError(f"model card {self.name!r}: task must be one of {TASKS}, got {self.task!r}")
        labels = tuple(self.labels)
        object.__setattr__(self, "labels", labels)
        if self.task == "classification":
            try:
                check_labels(labels)
            except ValueError as exc:
                raise ModelCardError(f"model card {self.name!r}: {exc}") from None
        elif len(set(labels)) != len(labels):
            raise ModelCardError(f"model card {self.name!r}: duplicate labels {list(labels)}")
        if len(labels) < 2:
            raise ModelCardError(f"model card {self.name!r}: needs at least two labels")
        object.__setattr__(self, "input_size_hw", tuple(int(v) for v in self.input_size_hw))
        if len(self.input_size_hw) != 2 or min(self.input_size_hw) < 8:
            raise ModelCardError(f"model card {self.name!r}: bad input_size_hw {self.input_size_hw}")
        if self.channels not in (1, 3):
            raise ModelCardError(f"model card {self.name!r}: channels must be 1 or 3, got {self.channels}")
        for key in ("mean", "std"):
            value = tuple(float(v) for v in getattr(self, key))
            object.__setattr__(self, key, value)
            if len(value) != self.channels:
                raise ModelCardError(
                    f"model card {self.name!r}: {key} has {len(value)} values for {self.channels} channel(s)"
                )
        if any(s <= 0 for s in self.std):
            raise ModelCardError(f"model card {self.name!r}: std must be positive")
        if not isinstance(self.equalize, bool):
            raise ModelCardError(
                f"model card {self.name!r}: equalize must be true or false, got {self.equalize!r}"
            )
        if self.onnx_sha256 is not None and len(self.onnx_sha256) != 64:
            raise ModelCardError(f"model card {self.name!r}: onnx_sha256 is not a sha256 hex digest")
        stale = {"variants", "calibration"} & set(self.extra)
        if stale:
            raise ModelCardError(
                f"model card {self.name!r}: {sorted(stale)} belong in the card's own sections, not in extra"
            )
        for tag, variant in self.variants.items():
            if not isinstance(variant, Variant):
                raise ModelCardError(f"model card {self.name!r}: variant {tag!r} is not a Variant")
        if self.calibration is not None and not isinstance(self.calibration, ConfidenceCalibration):
            raise ModelCardError(f"model card {self.name!r}: calibration is not a ConfidenceCalibration")

    def variant_for_file(self, file_name: str) -> tuple[str, Variant] | None:
        """(tag, variant) of the variant stored in ``file_name``, or None."""
        return next(((t, v) for t, v in self.variants.items() if v.file == file_name), None)

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["labels"] = list(self.labels)
        d["input_size_hw"] = list(self.input_size_hw)
        d["mean"] = list(self.mean)
        d["std"] = list(self.std)
        d["genotype"] = json.loads(json.dumps(self.genotype)) if self.genotype is not None else None
        d["metrics"] = json.loads(json.dumps(self.metrics))
        d["extra"] = json.loads(json.dumps(self.extra))
        d["variants"] = {tag: v.to_dict() for tag, v in self.variants.items()}
        d["calibration"] = self.calibration.to_dict() if self.calibration is not None else None
        if not self.equalize:  # the default: cards that never set it stay byte-identical
            del d["equalize"]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ModelCard:
        kw = _fields(cls, d, "model card")
        extra = dict(kw.get("extra") or {})
        for section in ("variants", "calibration"):  # the layout before typed sections
            if section in extra and kw.get(section) is None:
                kw[section] = extra.pop(section)
        kw["extra"] = extra
        for key in ("labels", "input_size_hw", "mean", "std"):
            if key in kw and isinstance(kw[key], Sequence):
                kw[key] = tuple(kw[key])
        name = kw.get("name", "?")
        variants = kw.get("variants") or {}
        if not isinstance(variants, Mapping):
            raise ModelCardError(f"model card {name!r}: variants must be a JSON object")
        try:
            kw["variants"] = {tag: Variant.from_dict(v, tag) for tag, v in variants.items()}
            if kw.get("calibration") is not None:
                kw["calibration"] = ConfidenceCalibration.from_dict(kw["calibration"])
        except ModelCardError as exc:
            raise ModelCardError(f"model card {name!r}: {exc}") from None
        try:
            return cls(**kw)
        except TypeError as exc:
            raise ModelCardError(f"model card is incomplete: {exc}") from None

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> ModelCard:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise ModelCardError(f"model card not found: {path}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ModelCardError(f"model card {path} is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ModelCardError(f"model card {path} must hold a JSON object")
        return cls.from_dict(data)


def card_path_for(model_path: str | Path) -> Path:
    """The model card that belongs to a model file: ``NAME.json`` beside ``NAME.onnx``."""
    return Path(model_path).with_suffix(".json")
