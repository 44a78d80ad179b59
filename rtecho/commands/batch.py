"""``rtecho batch INPUTS... --out results.parquet``: classify an archive of videos/DICOMs on Ray Data."""

from __future__ import annotations

import argparse

NAME = "batch"
HELP = "classify every video/DICOM of folders, globs or a FileList.csv on Ray (one Parquet row per file)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", help="folders (recursive), globs, EchoNet-style FileList.csv, files")
    p.add_argument("--out", required=True, help="the file table (Parquet); files already in it are skipped")
    p.add_argument("--frames-out", default=None, help="also write one row per frame here (Parquet)")
    p.add_argument("--model", default="darts2", help="ONNX path or model name in engines/ (default darts2)")
    p.add_argument("--backend", default=None, help="onnxruntime (default), openvino, ...")
    p.add_argument("--precision", default="fp32", help="fp32, bf16 or int8 (backend permitting)")
    p.add_argument("--threads", type=int, default=None, help="inference threads per task")
    p.add_argument(
        "--ultrasound", action="store_true", help="as `rtecho run --ultrasound` (sector, modes, smoothing)"
    )
    p.add_argument(
        "--address",
        default=None,
        help="Ray cluster (host:port of `ray start --head`); default RAY_ADDRESS, else a local instance",
    )
    p.add_argument("--num-cpus", type=int, default=None, help="CPUs of the local instance (default: all)")
    p.add_argument("--retry-errors", action="store_true", help="redo files whose row is an error")
    p.add_argument(
        "--max-retries", type=int, default=3, help="retries of a task whose worker died (default 3)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from rtecho.scale.batch import BatchOptions, run_batch

    opts = BatchOptions(args.model, args.backend, args.precision, args.threads, args.ultrasound)
    report = run_batch(
        args.inputs,
        args.out,
        frames_out=args.frames_out,
        options=opts,
        address=args.address,
        num_cpus=args.num_cpus,
        retry_errors=args.retry_errors,
        max_retries=args.max_retries,
        progress=not args.no_progress,
    )
    print(f"rtecho batch: {report.line()} -> {args.out}")
    return 0
