"""``rtecho serve --model M``: one batched inference service (Ray Serve) for many scanners."""

from __future__ import annotations

import argparse
import time

NAME = "serve"
HELP = "serve a model on Ray Serve with dynamic batching; scanners use load_engine(..., backend='serve')"


def _range(text: str) -> tuple[int, int]:
    lo, sep, hi = text.partition(":")
    try:
        a, b = int(lo), int(hi if sep else lo)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--autoscale wants MIN:MAX replicas, got {text!r}") from None
    if not 0 <= a <= b or b < 1:
        raise argparse.ArgumentTypeError(f"--autoscale wants 0 <= MIN <= MAX, MAX >= 1, got {text!r}")
    return a, b


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="darts2", help="ONNX path or model name in engines/ (default darts2)")
    p.add_argument(
        "--backend", default=None, help="backend of the replicas: onnxruntime (default), openvino, ..."
    )
    p.add_argument("--precision", default="fp32", help="fp32, bf16 or int8 (backend permitting)")
    p.add_argument("--threads", type=int, default=None, help="inference threads per replica")
    p.add_argument("--host", default="127.0.0.1", help="HTTP host (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000)")
    p.add_argument("--replicas", type=int, default=1, help="fixed number of replicas (default 1)")
    p.add_argument("--autoscale", type=_range, default=None, metavar="MIN:MAX", help="autoscale replicas")
    p.add_argument("--max-batch", type=int, default=32, help="images per batch at most (default 32)")
    p.add_argument("--batch-wait-ms", type=float, default=2.0, help="wait for a fuller batch (default 2 ms)")
    p.add_argument("--replica-cpus", type=float, default=1.0, help="CPUs reserved per replica (default 1)")
    p.add_argument("--address", default=None, help="Ray cluster (default RAY_ADDRESS, else a local instance)")
    p.add_argument("--for", dest="duration", type=float, default=None, help="stop after this many seconds")


def run(args: argparse.Namespace) -> int:
    from rtecho.scale.serve import start_service, stop_service

    url = start_service(
        args.model,
        backend=args.backend,
        precision=args.precision,
        threads=args.threads,
        host=args.host,
        port=args.port,
        replicas=args.replicas,
        autoscale=args.autoscale,
        max_batch=args.max_batch,
        batch_wait_ms=args.batch_wait_ms,
        num_cpus=args.replica_cpus,
        address=args.address,
    )
    print(
        f"rtecho serve: {args.model} at {url}  (scanner side: load_engine({args.model!r}, backend='serve', address={url!r}))",
        flush=True,
    )
    try:
        t_end = None if args.duration is None else time.monotonic() + args.duration
        while t_end is None or time.monotonic() < t_end:
            time.sleep(0.5)
    finally:
        stop_service()
    return 0
