"""The physical limit: this CPU's float32 GEMM throughput, single-thread and all-thread.

Method: numpy float32 ``a @ b`` on square n x n matrices (n = 512 and 1024), ``2 n^3`` FLOP per
product, best (shortest) of ``repeats`` timed products after one warm-up, in GFLOP/s; the peak is
the best over sizes. Best-of-many on moderate sizes, because on a shared machine a long product
spans many scheduler slices and under-reads the core. Each thread count runs in a fresh interpreter
with ``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` set, because BLAS fixes its
thread pool at import. OpenBLAS picks its kernel from the CPU it recognises (``Core: Haswell``,
AVX2, on CPUs newer than its tables, e.g. AMD Zen 5); on AVX-512 CPUs we also run it with
``OPENBLAS_CORETYPE=SkylakeX`` (its AVX-512 kernel) and keep the faster. The kernel is recorded.

A model's achieved rate is ``card FLOPs / infer p50``; its fraction of peak compares it with the
GEMM peak at the same thread count (the best a dense kernel reaches here: convolutions of small
CNNs, depthwise ones above all, reach a small fraction of it).

>>> p = gemm_gflops(threads=1, sizes=(128,), repeats=2)
>>> p.gflops > 0
True
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np

_THREAD_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
SIZES = (512, 1024)


@dataclass(frozen=True)
class GemmPeak:
    """Best float32 GEMM rate at a thread count (``size`` is the n that reached it)."""

    threads: int
    gflops: float
    size: int
    by_size: dict[int, float]
    kernel: str = "?"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["by_size"] = {str(k): round(v, 2) for k, v in self.by_size.items()}
        d["gflops"] = round(self.gflops, 2)
        return d


def _measure(sizes: tuple[int, ...], repeats: int) -> dict[int, float]:
    """GFLOP/s per size in this process, with whatever BLAS threads it has."""
    rng = np.random.default_rng(0)
    out = {}
    for n in sizes:
        a = rng.random((n, n), dtype=np.float32)
        b = rng.random((n, n), dtype=np.float32)
        c = a @ b  # warm-up: page faults, thread pool start
        best = float("inf")
        for _ in range(repeats):
            t = time.perf_counter()
            np.matmul(a, b, out=c)
            best = min(best, time.perf_counter() - t)
        out[n] = 2.0 * n**3 / best / 1e9
    return out


def _avx512() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("flags") and " avx512f" in line for line in f)
    except OSError:
        return False


def gemm_gflops(
    threads: int, sizes: tuple[int, ...] = SIZES, repeats: int = 10, coretype: str | None = None
) -> GemmPeak:
    """Measure the GEMM peak with ``threads`` BLAS threads (in a child interpreter); ``coretype``
    forces an OpenBLAS kernel (``OPENBLAS_CORETYPE``)."""
    env = dict(os.environ) | {k: str(threads) for k in _THREAD_ENV} | {"OPENBLAS_VERBOSE": "2"}
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    code = (
        "import json, sys; from rtecho.bench.peak import _measure; "
        f"print(json.dumps(_measure({tuple(sizes)!r}, {int(repeats)})))"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"GEMM micro-benchmark failed: {proc.stderr.strip()[-300:]}")
    by_size = {int(k): float(v) for k, v in json.loads(proc.stdout.strip().splitlines()[-1]).items()}
    size = max(by_size, key=by_size.__getitem__)
    core = [
        ln.split(":", 1)[1].strip()
        for ln in (proc.stdout + proc.stderr).splitlines()
        if ln.startswith("Core:")
    ]
    kernel = f"OpenBLAS {core[0] if core else '?'}" if "OPENBLAS_VERBOSE" in env else "?"
    return GemmPeak(threads=threads, gflops=by_size[size], size=size, by_size=by_size, kernel=kernel)


def cpu_peaks(
    thread_counts: tuple[int, ...] | None = None, sizes: tuple[int, ...] = SIZES, repeats: int = 10
) -> dict[int, GemmPeak]:
    """GEMM peaks at 1 thread and at all usable cores (or the given thread counts); on AVX-512 CPUs
    the better of OpenBLAS's own kernel choice and its AVX-512 (SkylakeX) kernel."""
    if thread_counts is None:
        try:
            cores = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            cores = os.cpu_count() or 1
        thread_counts = tuple(sorted({1, cores}))
    coretypes: tuple[str | None, ...] = (None, "SkylakeX") if _avx512() else (None,)
    peaks = {}
    for t in thread_counts:
        runs = [gemm_gflops(t, sizes, repeats, c) for c in coretypes]
        peaks[t] = max(runs, key=lambda p: p.gflops)
    return peaks


def peak_for(peaks: dict[int, GemmPeak], threads: int | None) -> GemmPeak | None:
    """The peak available to an engine with ``threads`` threads: the best measured at any thread
    count up to it (n threads can always do what fewer do; on a shared machine the all-core GEMM
    can read lower than the single-core one), or the smallest measured when none is below."""
    if not peaks:
        return None
    threads = threads if threads and threads >= 1 else 1
    below = [peaks[t] for t in peaks if t <= threads] or [peaks[min(peaks)]]
    return max(below, key=lambda p: p.gflops)
