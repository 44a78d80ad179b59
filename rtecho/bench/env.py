"""The environment a result was measured on: CPU, cores, threads, load, library versions, GPU.

``python -m rtecho.bench env`` prints it. Nothing here imports torch or a GPU library: versions
come from package metadata and the GPU from ``nvidia-smi`` when it is on the PATH.

>>> env = environment()
>>> env["cores"] >= 1 and "numpy" in env["versions"]
True
"""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
import shutil
import subprocess
import time
from typing import Any

PACKAGES = (
    "numpy",
    "onnxruntime",
    "openvino",
    "tensorrt",
    "torch",
    "onnx",
    "av",
    "pillow",
    "pydicom",
    "scipy",
)
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OV_CPU_THREADS_NUM")
CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


def cpu_info() -> dict[str, Any]:
    """CPU model name, logical cores, cores this process may run on, and SIMD flags that matter here."""
    model: str | None = None
    flags: set[str] = set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model is None:
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 1
    return {
        "model": model or platform.processor() or "?",
        "cores": os.cpu_count() or 1,
        "usable_cores": usable,
        "flags": [f for f in CPU_FLAGS if f in flags],
    }


def gpu_info() -> list[dict[str, str]]:
    """NVIDIA GPUs from ``nvidia-smi`` (name, driver, memory); empty without one."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    query = "--query-gpu=name,driver_version,memory.total"
    try:
        out = subprocess.run(
            [exe, query, "--format=csv,noheader"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    gpus = []
    for line in out.stdout.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3:
            gpus.append({"name": parts[0], "driver": parts[1], "memory": parts[2]})
    return gpus


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries that shape the figures (absent ones are left out)."""
    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            continue
    return versions


def load_average() -> list[float] | None:
    """1/5/15-minute load average (a shared machine's figures vary with it); None where unknown."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def environment() -> dict[str, Any]:
    """Everything a result needs to be compared with another: machine, threads, versions, time."""
    from rtecho._version import __version__

    cpu = cpu_info()
    return {
        "rtecho": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "hostname": platform.node(),
        "cpu": cpu["model"],
        "cores": cpu["cores"],
        "usable_cores": cpu["usable_cores"],
        "cpu_flags": cpu["flags"],
        "thread_env": {k: os.environ[k] for k in THREAD_VARS if k in os.environ},
        "load_average": load_average(),
        "gpus": gpu_info(),
        "versions": library_versions(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def format_environment(env: dict[str, Any]) -> str:
    """A few readable lines for the top of the bench output and ``python -m rtecho.bench env``."""
    gpus = ", ".join(g["name"] for g in env.get("gpus") or []) or "none"
    load = env.get("load_average")
    threads = ", ".join(f"{k}={v}" for k, v in env.get("thread_env", {}).items()) or "none set"
    lines = [
        f"cpu      {env['cpu']} ({env['cores']} logical cores, {env['usable_cores']} usable; "
        f"{' '.join(env['cpu_flags']) or 'no AVX2'})",
        f"gpu      {gpus}",
        f"threads  {threads}",
        f"load     {' '.join(map(str, load)) if load else '?'} (1/5/15 min)",
        f"python   {env['python']} on {env['platform']}; rtecho {env['rtecho']}",
        "versions " + ", ".join(f"{k} {v}" for k, v in env["versions"].items()),
    ]
    return "\n".join(lines)
