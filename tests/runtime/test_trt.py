"""TensorRT backend: cache keys, engine files and the rebuild logic (no GPU needed), the errors when
TensorRT or a GPU is absent, the build code against a recording fake ``tensorrt``, and real builds
and runs marked ``tensorrt`` (skipped without TensorRT and an NVIDIA GPU)."""

from __future__ import annotations

import dataclasses
import importlib.util
import shutil
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pytest

from rtecho.errors import EngineError, MissingExtraError
from rtecho.runtime import load_engine
from rtecho.runtime.trt_build import (
    EngineKey,
    build_serialized,
    engine_cache_path,
    load_or_build,
    load_user_engine,
    network_flags,
    read_engine_file,
    timing_cache_path,
    write_engine_file,
)
from rtecho.types import ModelCard, card_path_for

KEY = EngineKey("NVIDIA H100 80GB HBM3", (9, 0), "10.9.0", "ab" * 32, "fp16", 8)


@pytest.mark.parametrize(
    "change",
    [
        {"gpu_name": "NVIDIA L4"},
        {"compute_capability": (8, 9)},
        {"trt_version": "11.0.0"},
        {"onnx_sha256": "cd" * 32},
        {"precision": "int8"},
        {"max_batch": 1},
    ],
)
def test_cache_key_changes_with_every_component(change, tmp_path):
    other = dataclasses.replace(KEY, **change)
    assert other.digest() != KEY.digest()
    assert engine_cache_path(other, "m", tmp_path) != engine_cache_path(KEY, "m", tmp_path)
    assert dataclasses.replace(KEY).digest() == KEY.digest()  # and is stable


def test_cache_dir_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv("RTECHO_CACHE", str(tmp_path))
    assert engine_cache_path(KEY, "darts2").parent == tmp_path
    tc = timing_cache_path(KEY)
    assert tc.parent == tmp_path and "sm90" in tc.name and "10-9-0" in tc.name


def test_engine_file_round_trip_and_damage(tmp_path):
    path = write_engine_file(tmp_path / "e.engine", KEY.to_dict(), b"PLAN")
    assert read_engine_file(path) == (KEY.to_dict(), b"PLAN")
    raw = tmp_path / "raw.engine"
    raw.write_bytes(b"just a plan")
    assert read_engine_file(raw) == (None, b"just a plan")
    path.write_bytes(path.read_bytes()[:30])  # truncated inside the header
    with pytest.raises(EngineError, match="truncated"):
        read_engine_file(path)


class FakeRuntime:
    """Deserialises plans that start with b'OK'; counts builds."""

    def __init__(self):
        self.builds = 0

    def build(self) -> bytes:
        self.builds += 1
        return b"OK plan"

    @staticmethod
    def deserialize(plan: bytes):
        return ("engine", plan) if plan.startswith(b"OK") else None


def test_load_or_build_caches_and_reuses(tmp_path):
    fake = FakeRuntime()
    engine, info = load_or_build(KEY, "m", fake.build, fake.deserialize, tmp_path)
    assert engine == ("engine", b"OK plan") and info["cache"] == "built" and fake.builds == 1
    engine, info = load_or_build(KEY, "m", fake.build, fake.deserialize, tmp_path)
    assert info["cache"] == "hit" and fake.builds == 1


@pytest.mark.parametrize("damage", ["truncate", "garbage_plan", "other_header", "garbage_header"])
def test_damaged_cached_engine_is_rebuilt_with_a_warning(damage, tmp_path):
    fake = FakeRuntime()
    load_or_build(KEY, "m", fake.build, fake.deserialize, tmp_path)
    path = engine_cache_path(KEY, "m", tmp_path)
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:25])
    elif damage == "garbage_plan":
        write_engine_file(path, KEY.to_dict(), b"\x00garbage")
    elif damage == "other_header":
        write_engine_file(path, dataclasses.replace(KEY, trt_version="10.0.1").to_dict(), b"OK old")
    else:
        data = path.read_bytes()
        path.write_bytes(data[:22] + b"}{" + data[24:])
    with pytest.warns(UserWarning, match="rebuilding"):
        engine, info = load_or_build(KEY, "m", fake.build, fake.deserialize, tmp_path)
    assert info["cache"] == "built" and fake.builds == 2 and engine == ("engine", b"OK plan")
    assert read_engine_file(path) == (KEY.to_dict(), b"OK plan")


def test_unloadable_fresh_build_is_an_error(tmp_path):
    with pytest.raises(EngineError, match="just built"):
        load_or_build(KEY, "m", lambda: b"bad", FakeRuntime.deserialize, tmp_path)
    assert not engine_cache_path(KEY, "m", tmp_path).exists()


def test_user_engine_file(tmp_path):
    bad = tmp_path / "bad.engine"
    bad.write_bytes(b"\x00not an engine")
    with pytest.raises(EngineError, match="cannot load engine file"):
        load_user_engine(bad, FakeRuntime.deserialize)
    good = write_engine_file(tmp_path / "good.engine", KEY.to_dict(), b"OK x")
    assert load_user_engine(good, FakeRuntime.deserialize) == ("engine", b"OK x")
    with pytest.raises(EngineError, match="cannot read"):
        load_user_engine(tmp_path / "missing.engine", FakeRuntime.deserialize)


# -- the build code against a fake tensorrt module -------------------------------------------------
def fake_trt(version: str, strongly_typed: bool = True, parse_ok: bool = True):
    calls: dict = {"profile": [], "flags": None, "cache_in": None}

    class Tensor:
        name, shape = "input", (-1, 1, 128, 128)

    class Network:
        num_inputs = 1

        def get_input(self, i):
            return Tensor()

    class Parser:
        num_errors = 0 if parse_ok else 1

        def __init__(self, network, logger):
            pass

        def parse(self, data):
            return parse_ok

        def get_error(self, i):
            return "QuantizeLinear: zero point must be 0"

    class Cache:
        def serialize(self):
            return b"TIMINGS"

    class Config:
        def set_memory_pool_limit(self, pool, size):
            calls["workspace"] = (pool, size)

        def add_optimization_profile(self, profile):
            calls["profile_added"] = True

        def create_timing_cache(self, data):
            calls["cache_in"] = data
            return Cache()

        def set_timing_cache(self, cache, ignore_mismatch):
            calls["cache_set"] = ignore_mismatch

        def get_timing_cache(self):
            return Cache()

    class Profile:
        def set_shape(self, name, mn, opt, mx):
            calls["profile"].append((name, mn, opt, mx))

    class Builder:
        def __init__(self, logger):
            pass

        def create_network(self, flags):
            calls["flags"] = flags
            return Network()

        def create_builder_config(self):
            return Config()

        def create_optimization_profile(self):
            return Profile()

        def build_serialized_network(self, network, config):
            return b"PLAN"

    flag_ns = types.SimpleNamespace(STRONGLY_TYPED=1) if strongly_typed else types.SimpleNamespace()
    trt = types.SimpleNamespace(
        __version__=version,
        Builder=Builder,
        OnnxParser=Parser,
        NetworkDefinitionCreationFlag=flag_ns,
        MemoryPoolType=types.SimpleNamespace(WORKSPACE="WORKSPACE"),
    )
    return trt, calls


@pytest.mark.parametrize(("version", "flags"), [("10.9.0.34", 1 << 1), ("11.0.0", 0)])
def test_build_serialized_profile_flags_and_timing_cache(version, flags, tiny_onnx, tmp_path):
    trt, calls = fake_trt(version)
    tc = tmp_path / "timing.cache"
    tc.write_bytes(b"OLD")
    assert build_serialized(trt, None, tiny_onnx, 4, tc) == b"PLAN"
    assert calls["flags"] == flags == network_flags(trt)
    assert calls["profile"] == [("input", (1, 1, 128, 128), (1, 1, 128, 128), (4, 1, 128, 128))]
    assert calls["profile_added"] and calls["workspace"][0] == "WORKSPACE"
    assert calls["cache_in"] == b"OLD" and calls["cache_set"] is False
    assert tc.read_bytes() == b"TIMINGS"


def test_network_flags_without_strongly_typed_member():
    trt, _ = fake_trt("11.2.0", strongly_typed=False)
    assert network_flags(trt) == 0


def test_parse_failure_is_a_clear_error(tiny_onnx):
    trt, _ = fake_trt("10.9.0", parse_ok=False)
    with pytest.raises(EngineError, match="TensorRT cannot load .*zero point must be 0"):
        build_serialized(trt, None, tiny_onnx, 1, None)


# -- absent TensorRT / GPU -----------------------------------------------------------------------
@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="TensorRT is installed")
def test_missing_tensorrt_names_the_extra(tiny_onnx):
    with pytest.raises(MissingExtraError, match=r'pip install "rtecho\[trt\]"'):
        load_engine(tiny_onnx, backend="tensorrt")


def test_no_gpu_is_a_clear_error(tiny_onnx, monkeypatch):
    if shutil.which("nvidia-smi"):
        pytest.skip("a GPU may be present")
    trt, _ = fake_trt("10.9.0")
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    from rtecho.runtime.trt import TensorRTEngine

    engine = TensorRTEngine(tiny_onnx, ModelCard.load(card_path_for(tiny_onnx)))
    with pytest.raises((EngineError, MissingExtraError), match=r"no CUDA GPU|rtecho\[trt\]"):
        engine.open()
    assert not engine.is_open


def test_int8_variant_must_be_symmetric(tiny_onnx, tmp_path):
    from rtecho.card import Quantisation
    from rtecho.io import SyntheticSource
    from rtecho.runtime.precision import quantize_qdq, record_variant
    from rtecho.runtime.trt import int8_variant

    model = tmp_path / "tiny.onnx"
    shutil.copy(tiny_onnx, model)
    shutil.copy(card_path_for(tiny_onnx), card_path_for(model))
    card = ModelCard.load(card_path_for(model))
    frames = [f.image for f in SyntheticSource(n_frames=8, size_hw=(64, 64))]
    cpu = quantize_qdq(model, model.with_name("tiny.int8.onnx"), frames, card, activation_type="u8")
    card = record_variant(model, "int8", cpu, quantisation=Quantisation("u8"))
    with pytest.raises(EngineError, match="symmetric"):
        int8_variant(model, card)
    sym = quantize_qdq(model, model.with_name("tiny.int8-sym.onnx"), frames, card, quantize_bias=False)
    card = record_variant(model, "int8-sym", sym, quantisation=Quantisation("s8", quantize_bias=False))
    assert int8_variant(model, card) == sym


# -- on a GPU ------------------------------------------------------------------------------------
@pytest.fixture
def gpu_model(tiny_onnx, tmp_path, monkeypatch):
    from rtecho.card import Quantisation
    from rtecho.io import SyntheticSource
    from rtecho.runtime.precision import quantize_qdq, record_variant, to_fp16

    monkeypatch.setenv("RTECHO_CACHE", str(tmp_path / "cache"))
    model = tmp_path / "tiny.onnx"
    shutil.copy(tiny_onnx, model)
    shutil.copy(card_path_for(tiny_onnx), card_path_for(model))
    card = ModelCard.load(card_path_for(model))
    record_variant(model, "fp16", to_fp16(model, model.with_name("tiny.fp16.onnx")))
    frames = [f.image for f in SyntheticSource(n_frames=64, size_hw=(160, 200), seed=1)]
    sym = quantize_qdq(model, model.with_name("tiny.int8-sym.onnx"), frames, card, quantize_bias=False)
    record_variant(model, "int8-sym", sym, quantisation=Quantisation("s8", quantize_bias=False))
    return model


@pytest.mark.tensorrt
@pytest.mark.parametrize(
    ("precision", "atol", "agree"), [("fp32", 1e-3, 1.0), ("fp16", 3e-2, 0.95), ("int8", 0.3, 0.8)]
)
def test_gpu_build_and_run_against_onnxruntime(gpu_model, precision, atol, agree):
    from rtecho.io import SyntheticSource
    from rtecho.runtime.preprocess import Preprocessor

    card = ModelCard.load(card_path_for(gpu_model))
    pre = Preprocessor(card)
    x = np.concatenate([pre(f.image) for f in SyntheticSource(n_frames=16, size_hw=(160, 200), seed=5)])
    with load_engine(gpu_model, backend="onnxruntime") as ref:
        want = ref.infer(x)
    with load_engine(gpu_model, backend="tensorrt", precision=precision, max_batch=4) as eng:
        got = eng.infer(x)  # 16 frames through a max-batch-4 engine: chunked
        assert eng.info.settings["cache"] == "built"
        one = eng.infer(x[:1])
    np.testing.assert_allclose(got, want, atol=atol, rtol=atol)
    np.testing.assert_allclose(one, got[:1], atol=1e-3)
    assert (got.argmax(1) == want.argmax(1)).mean() >= agree
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a cache hit warns about nothing
        with load_engine(gpu_model, backend="tensorrt", precision=precision, max_batch=4) as eng:
            assert eng.info.settings["cache"] == "hit"
            np.testing.assert_allclose(eng.infer(x), got, atol=1e-5)


@pytest.mark.tensorrt
def test_gpu_damaged_cache_and_user_engine(gpu_model, tmp_path):
    with load_engine(gpu_model, backend="tensorrt", max_batch=2) as eng:
        path = eng.info.settings["engine_file"]
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: len(data) // 2])
    with pytest.warns(UserWarning, match="rebuilding"):
        with load_engine(gpu_model, backend="tensorrt", max_batch=2) as eng:
            assert eng.info.settings["cache"] == "built"
    bad = tmp_path / "user.engine"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(EngineError, match="cannot load engine file"):
        load_engine(gpu_model, backend="tensorrt", engine_file=str(bad)).open()
