"""``python -m rtecho.bench``: latency of models and backends through the full stream processor.

The default run (``make bench``) takes every model in ``engines/`` on every installed backend and
every precision that backend supports and has a file for (``NAME.int8.onnx`` from ``rtecho
calibrate``; skipped with a note otherwise), plays two clips through the stream processor: the
bundled labelled sample clip (``rtecho/data/sample_clip.avi``, a *simulated* scanning session made
by :mod:`rtecho.bench.make_sample`) and pydicom's real A4C cine; and prints one table: model,
backend/precision, input size, params, GFLOPs, threads, infer p50/p95/p99, end-to-end p50/p99, fps,
dropped, deadline misses, accuracy on the labelled clip, speed-up over torch eager, achieved GFLOP/s
and its fraction of the CPU's GEMM peak. Five models on ONNX Runtime, OpenVINO and torch (55 runs)
took 52-75 s on the 2-core development machine; ``--frames`` and ``--max-seconds`` set the budget.

Method
------
- Clips are decoded once into memory (each frame keeps its real decode time, reported as the
  ``decode`` stage), then replayed by :class:`~rtecho.bench.replay.ReplaySource`; each frame's
  ``arrival`` is stamped when the source releases it, and ``end_to_end`` runs from there to the
  result (reader thread -> bounded queue -> worker: preprocess, infer, postprocess).
- Each engine is opened once per configuration and warmed up with ``--warmup`` real frames through
  the worker's own pipeline; no warm-up frame is timed.
- **Lockstep** (default): the next frame is released when the previous result is out: one frame in
  flight, so the figures are per-frame latency without queueing, and ``fps`` is the closed-loop rate
  the machine sustains (its reciprocal includes the thread hand-offs that ``e2e`` does not see).
  This is what a 30 fps scanner sees whenever e2e p99 is under one period (33 ms), and it lets a run
  of 300 frames take well under a second for the small models. A run stops at ``--frames`` frames or
  ``--max-seconds``, whichever comes first (``frames`` in the JSON says how many were timed).
- ``--realtime`` paces frames at the clip's fps (``--pace-fps F`` at F) with the ``latest`` drop
  policy, as a live scanner: a deadline miss is a result later than one frame period after arrival.
- Every stage is timed with ``time.perf_counter``; we report medians and p95/p99, never means alone.
- Threads: the engines' settings (ONNX Runtime: 1 intra-op thread on <= 2 cores; OpenVINO: its
  LATENCY hint; torch: 1) unless ``--threads``; each row reports its thread count, the JSON the full
  settings and the BLAS/OpenMP environment variables.
- GPU stages: the TensorRT engine synchronises its CUDA stream inside ``infer``, so ``infer`` and
  ``end_to_end`` include the device work; no other backend runs asynchronously.
- Speed-up over torch eager: torch rebuilt from the model card (random weights when no ``NAME.pt``:
  speed does not depend on the weights), through the same stream processor in the same run on the
  first clip, same thread count; ``x torch`` = torch infer p50 / this infer p50.
- Physical limit: :mod:`rtecho.bench.peak` measures numpy float32 GEMM (1024^2 and 2048^2, best of
  5) at 1 thread and at all cores; ``%peak`` = (card FLOPs / infer p50) / peak at the same threads.
- The machine's load average is recorded at start and end: on a shared machine tails move with it.

Full-resolution screen rows (``--no-screens`` to skip, ``--screens-only``): the default classifier
with the ultrasound stage (:mod:`rtecho.pipeline.ultrasound`), paced at 30 fps with
the ``latest`` policy, on pydicom-data's real 640x480 cine and simulator screens at 800x600 and
1024x768 (rendered at bench time); each clip is a new stream, and each row is broken into ``wait``,
``preprocess``, ``infer`` and ``postprocess`` with late and dropped frames, against the 13 ms
limit. After the acceptance lines, every non-fp32 variant is checked against fp32 on the same
backend (a variant the backend does not offer is marked ``!``; ``--record-variants``).

Other modes: ``--batch N`` (offline throughput, images/s), ``--streams N`` (N concurrent 30 fps
streams, per-stream latency and misses), ``--find-max-streams`` (largest N without misses),
``--json OUT`` (schema ``rtecho/bench/schema.json``), ``--save`` (timestamped JSON under
``benchmarks/results/``), ``--plot OUT.png`` (latency CDF per stage) and ``env``.

>>> from rtecho.bench import BenchConfig, bench_config, load_sample_clip
>>> [r] = bench_config(BenchConfig("tiny-untrained", "onnxruntime"), [load_sample_clip(8)], n_frames=8)
>>> r.frames
8
"""

from rtecho.bench.clips import Clip, load_clip, load_sample_clip, pydicom_a4c
from rtecho.bench.env import environment
from rtecho.bench.multi import bench_batch, find_max_streams, run_streams
from rtecho.bench.peak import cpu_peaks, gemm_gflops
from rtecho.bench.report import build_document, format_table, load_schema
from rtecho.bench.runner import BenchConfig, BenchResult, bench_config

__all__ = [
    "BenchConfig",
    "BenchResult",
    "Clip",
    "bench_batch",
    "bench_config",
    "build_document",
    "cpu_peaks",
    "environment",
    "find_max_streams",
    "format_table",
    "gemm_gflops",
    "load_clip",
    "load_sample_clip",
    "load_schema",
    "pydicom_a4c",
    "run_streams",
]
