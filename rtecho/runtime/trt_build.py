"""Building TensorRT engines from ONNX, and the engine cache (TensorRT 10 and 11).

The network is strongly typed: precision comes from the ONNX graph (an FP16 graph, or Q/DQ nodes
for INT8), never from builder flags (TensorRT 11 removed ``BuilderFlag.FP16``/``INT8``, the
implicit-INT8 calibrators and ``EXPLICIT_BATCH``). One optimisation profile covers batch 1..N and
is tuned at 1 (a scanner sends one frame at a time). Tactic timings are kept in a timing cache per
GPU and TensorRT version, so rebuilding for another precision or batch is fast.

Engine cache: ``$RTECHO_CACHE`` or ``~/.cache/rtecho/engines``. The key is the sha256 of (GPU name,
compute capability, TensorRT version, ONNX sha256, precision, max batch). A cached file starts with
a header holding that identity as JSON; a file whose header is damaged or differs, or whose plan
TensorRT cannot deserialise, is deleted with a warning and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import struct
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rtecho.errors import EngineError

log = logging.getLogger(__name__)

MAGIC = b"RTECHO-TRT-ENGINE\n"
WORKSPACE_BYTES = 1 << 30


@dataclass(frozen=True)
class EngineKey:
    """Everything a built engine depends on; its :meth:`digest` names the cached file."""

    gpu_name: str
    compute_capability: tuple[int, int]
    trt_version: str
    onnx_sha256: str
    precision: str
    max_batch: int

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["compute_capability"] = list(self.compute_capability)
        return d

    def digest(self) -> str:
        """sha256 of the canonical JSON of every field."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()


def cache_dir() -> Path:
    """Where engines and timing caches live: ``$RTECHO_CACHE`` or ``~/.cache/rtecho/engines``."""
    env = os.environ.get("RTECHO_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "rtecho" / "engines"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "x"


def engine_cache_path(key: EngineKey, name: str, directory: Path | None = None) -> Path:
    """``<cache>/<name>.<precision>.b<N>.<digest16>.engine``."""
    d = directory or cache_dir()
    return d / f"{_slug(name)}.{key.precision}.b{key.max_batch}.{key.digest()[:16]}.engine"


def timing_cache_path(key: EngineKey, directory: Path | None = None) -> Path:
    """One timing cache per GPU model, compute capability and TensorRT version."""
    d = directory or cache_dir()
    cc = "".join(map(str, key.compute_capability))
    return d / f"timing.{_slug(key.gpu_name)}.sm{cc}.trt{_slug(key.trt_version)}.cache"


# -- engine files --------------------------------------------------------------------------------
def write_engine_file(path: Path, meta: dict[str, Any], plan: bytes) -> Path:
    """Write header (magic, length, JSON) + plan atomically (a crash never leaves half a file)."""
    header = json.dumps(meta, sort_keys=True).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with tmp.open("wb") as f:
        f.write(MAGIC + struct.pack("<I", len(header)) + header + bytes(plan))
    os.replace(tmp, path)
    return path


def read_engine_file(path: Path) -> tuple[dict[str, Any] | None, bytes]:
    """(header, plan) of an engine file; header is None for a raw TensorRT plan without one.

    Raises :class:`EngineError` for a file whose rtecho header is truncated or unreadable.
    """
    data = Path(path).read_bytes()
    if not data.startswith(MAGIC):
        return None, data
    off = len(MAGIC)
    if len(data) < off + 4:
        raise EngineError(f"{path}: truncated engine header")
    (n,) = struct.unpack("<I", data[off : off + 4])
    raw = data[off + 4 : off + 4 + n]
    if len(raw) != n:
        raise EngineError(f"{path}: truncated engine header")
    try:
        meta = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise EngineError(f"{path}: damaged engine header") from None
    return meta, data[off + 4 + n :]


def load_or_build(
    key: EngineKey,
    name: str,
    build: Callable[[], bytes],
    deserialize: Callable[[bytes], Any],
    directory: Path | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Return ``(engine, info)`` from the cache, or build, deserialise and cache a new engine.

    ``deserialize`` returns None for a plan it cannot load (``trt.Runtime.deserialize_cuda_engine``
    does). A damaged, truncated or mismatched cached file is deleted with a warning and rebuilt.
    """
    path = engine_cache_path(key, name, directory)
    expected = key.to_dict()
    if path.is_file():
        reason = None
        try:
            meta, plan = read_engine_file(path)
        except (EngineError, OSError) as exc:
            reason = str(exc)
        else:
            if meta != expected:
                reason = "its header does not match this GPU/TensorRT/model"
            else:
                engine = deserialize(plan)
                if engine is not None:
                    return engine, {"engine_file": str(path), "cache": "hit"}
                reason = "TensorRT could not deserialise it"
        warnings.warn(f"cached TensorRT engine {path.name} is unusable ({reason}); rebuilding", stacklevel=2)
        path.unlink(missing_ok=True)
    plan = build()
    engine = deserialize(plan)
    if engine is None:
        raise EngineError(f"TensorRT could not deserialise the engine it just built for {name!r}")
    write_engine_file(path, expected, plan)
    return engine, {"engine_file": str(path), "cache": "built"}


def load_user_engine(path: Path, deserialize: Callable[[bytes], Any]) -> Any:
    """Deserialise a user-given ``.engine`` file (rtecho's format or a raw plan) or raise EngineError."""
    try:
        _, plan = read_engine_file(path)
    except OSError as exc:
        raise EngineError(f"cannot read TensorRT engine {path}: {exc}") from None
    engine = deserialize(plan)
    if engine is None:
        raise EngineError(
            f"TensorRT cannot load engine file {path}: damaged, or built for another GPU or TensorRT version "
            "(rebuild it with `rtecho build`)"
        )
    return engine


# -- building ------------------------------------------------------------------------------------
def network_flags(trt: Any) -> int:
    """Strongly typed network flags: STRONGLY_TYPED on TensorRT 10, nothing on 11 (always on there)."""
    major = int(str(trt.__version__).split(".")[0])
    flag = getattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
    return (1 << int(flag)) if (flag is not None and major < 11) else 0


def build_serialized(
    trt: Any,
    logger: Any,
    onnx_path: Path,
    max_batch: int,
    timing_cache: Path | None = None,
    workspace: int = WORKSPACE_BYTES,
) -> bytes:
    """Parse ``onnx_path`` into a strongly typed network and build a serialised engine (plan).

    The input's batch dimension gets the profile min=1, opt=1, max=``max_batch`` when it is
    dynamic; the timing cache at ``timing_cache`` is read before and written after the build.
    """
    builder = trt.Builder(logger)
    network = builder.create_network(network_flags(trt))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(Path(onnx_path).read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise EngineError(f"TensorRT cannot load {onnx_path}: {errors[:500] or 'ONNX parse failed'}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace)
    profile = builder.create_optimization_profile()
    dynamic = False
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        shape = tuple(tensor.shape)
        if shape and shape[0] == -1:
            if any(d < 0 for d in shape[1:]):
                raise EngineError(f"{onnx_path}: input {tensor.name!r} has dynamic dimensions besides batch")
            rest = shape[1:]
            profile.set_shape(tensor.name, (1, *rest), (1, *rest), (max_batch, *rest))
            dynamic = True
    if dynamic:
        config.add_optimization_profile(profile)
    cache_bytes = timing_cache.read_bytes() if timing_cache is not None and timing_cache.is_file() else b""
    cache = config.create_timing_cache(cache_bytes)
    config.set_timing_cache(cache, ignore_mismatch=False)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise EngineError(f"TensorRT failed to build an engine from {onnx_path} (see the TensorRT log above)")
    if timing_cache is not None:
        timing_cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = timing_cache.with_name(timing_cache.name + f".tmp{os.getpid()}")
        tmp.write_bytes(bytes(config.get_timing_cache().serialize()))
        os.replace(tmp, timing_cache)
    return bytes(plan)
