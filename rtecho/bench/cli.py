"""The ``python -m rtecho.bench`` command line (also ``rtecho bench``): argument parsing and the run."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m rtecho.bench",
        description="Latency of every model on every backend and precision through the full stream processor. "
        "Subcommand `env` prints the environment.",
    )
    sub = ap.add_subparsers(dest="command")
    sub.add_parser("env", help="print the environment (CPU, cores, threads, library versions, GPU) and exit")
    peers = sub.add_parser(
        "peers",
        help="rtecho and FAST (pyfast, in its own venv: make peers) side by side on the same model and DICOM cine",
    )
    p = peers.add_argument
    p("--model", default="darts2", help="model name or ONNX path (default darts2)")
    p(
        "--clip",
        default=None,
        help="DICOM multi-frame cine (default pydicom's real A4C cine, examples.ybr_color)",
    )
    p("--frames", type=int, default=150, help="lockstep frames per round, the cine cycled (default 150)")
    p("--warmup", type=int, default=10, help="warm-up frames per round, not timed (default 10)")
    p("--rounds", type=int, default=3, help="rounds; rtecho and FAST alternate within each (default 3)")
    p("--threads", type=int, default=None, help="rtecho's inference threads (default: the backend's)")
    p("--fast-python", default=None, help="FAST's interpreter (default .venv-peers/bin/python)")
    p("--rtecho-only", action="store_true", help="measure rtecho's side only (no FAST environment needed)")
    p("--json", default=None, metavar="OUT", help="write the figures as JSON")
    add_arguments(ap)
    return ap


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The run's options (shared with ``rtecho bench``)."""
    a = ap.add_argument
    a("--models", nargs="+", help="model names or ONNX paths (default: every model in engines/)")
    a("--backends", nargs="+", help="backends (default: every installed one; torch eager is the baseline)")
    a(
        "--precision",
        nargs="+",
        help="precisions (default: every one the backend supports and has a file for)",
    )
    a("--threads", nargs="+", type=int, help="inference threads, one run per value (default: the backend's)")
    a("--clip", nargs="+", help="clips to replay instead of the bundled sample clip and the real A4C cine")
    a("--frames", type=int, default=300, help="frames per run; clips are looped (default 300)")
    a("--warmup", type=int, default=20, help="warm-up frames per run, not timed (default 20)")
    a(
        "--max-seconds",
        type=float,
        default=None,
        help="time cap of one run in seconds (default 1.5 in lockstep; paced runs play all --frames)",
    )
    a(
        "--realtime",
        action="store_true",
        help="pace at the clip's fps (drop policy latest) instead of lockstep",
    )
    a(
        "--pace-fps",
        type=float,
        default=None,
        help="pace at this rate instead of lockstep (a virtual scanner)",
    )
    a("--no-torch", action="store_true", help="skip the torch eager baseline (no speed-up column)")
    a(
        "--no-screens",
        action="store_true",
        help="skip the full-resolution screen rows (ultrasound stage on, paced at 30 fps)",
    )
    a("--screens-only", action="store_true", help="only the full-resolution screen rows")
    a(
        "--record-variants",
        action="store_true",
        help="write into each model card, per backend, whether a variant measured less than 1.05x "
        "faster than fp32 (variants.TAG.slower_than_fp32; such a variant is then not offered there)",
    )
    a("--screen-frames", type=int, default=300, help="frames per screen row (default 300: 10 s at 30 fps)")
    a(
        "--screen-models",
        nargs="+",
        default=None,
        help="models of the screen rows (default: rtecho run's default classifier, when the run has it)",
    )
    a(
        "--ef",
        action="store_true",
        help="also the cardiac rows: LV segmenter alone, classify+segment (rtecho.bench.cardiac)",
    )
    a("--ef-only", action="store_true", help="only the cardiac rows")
    a("--ef-frames", type=int, default=120, help="frames per cardiac row (default 120)")
    a("--batch", type=int, default=None, help="offline throughput at this batch size (images/s) instead")
    a(
        "--streams",
        type=int,
        default=None,
        help="N concurrent 30 fps streams instead: per-stream latency/misses",
    )
    a("--find-max-streams", action="store_true", help="raise N until a stream misses a deadline")
    a("--max-streams", type=int, default=64, help="upper bound of --find-max-streams (default 64)")
    a("--max-streams-seconds", type=float, default=90.0, help="time bound of --find-max-streams (default 90)")
    a("--stream-frames", type=int, default=90, help="frames per stream (default 90: 3 s at 30 fps)")
    a("--stream-fps", type=float, default=30.0, help="rate of each stream (default 30)")
    a("--shared-engine", action="store_true", help="one engine shared by every stream")
    a("--no-peak", action="store_true", help="skip the GEMM peak micro-benchmark")
    a(
        "--json",
        default=None,
        metavar="OUT",
        help="write results + environment as JSON (rtecho/bench/schema.json)",
    )
    a("--save", action="store_true", help="also save the JSON under benchmarks/results/ (timestamped)")
    a("--plot", default=None, metavar="OUT.png", help="latency CDF per stage as PNG (needs matplotlib)")
    a("--quiet", action="store_true", help="no progress bar")


def main(argv: list[str] | None = None) -> int:
    from rtecho.errors import RtechoError

    args = build_parser().parse_args(argv)
    try:
        if args.command == "env":
            from rtecho.bench.env import environment, format_environment

            print(format_environment(environment()))
            return 0
        if args.command == "peers":
            from rtecho.bench.peers import run_peers

            for name in ("frames", "rounds"):
                if getattr(args, name) < 1:
                    raise RtechoError(f"--{name} must be >= 1")
            return run_peers(args)
        return run(args)
    except RtechoError as exc:
        print(f"rtecho.bench: error: {exc}", file=sys.stderr)
        return 1


class _NoBar:
    """Stands in for tqdm when it is not installed (the bar is a convenience, not a dependency)."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, s: str) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int | None, quiet: bool, desc: str) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:
        if not quiet:
            print(f"{desc}: running (pip install tqdm for a progress bar)", file=sys.stderr)
        return _NoBar()
    return tqdm(
        total=total, desc=desc, unit="run", disable=quiet, file=sys.stderr, dynamic_ncols=True, leave=False
    )


def _check_args(args: argparse.Namespace) -> None:
    from rtecho.errors import RtechoError

    for name in ("frames", "warmup", "batch", "streams", "stream_frames", "max_streams", "screen_frames"):
        v = getattr(args, name)
        if v is not None and v < (0 if name == "warmup" else 1):
            raise RtechoError(f"--{name.replace('_', '-')} must be >= 1, got {v}")
    if min(args.max_seconds, args.max_streams_seconds, args.stream_fps) <= 0 or (
        args.pace_fps is not None and args.pace_fps <= 0
    ):
        raise RtechoError(
            "--max-seconds, --max-streams-seconds, --stream-fps and --pace-fps must be positive"
        )


def run(args: argparse.Namespace) -> int:
    """Run the benchmark described by ``args`` and print the tables; returns the exit status."""
    from rtecho.bench import clips as clipmod
    from rtecho.bench import plan, report
    from rtecho.bench.env import environment, format_environment, load_average
    from rtecho.bench.multi import bench_batch, find_max_streams, run_streams
    from rtecho.bench.peak import cpu_peaks
    from rtecho.bench.runner import attach_baselines, bench_config
    from rtecho.errors import EngineError, MissingExtraError

    mode = "paced" if (args.realtime or args.pace_fps) else "lockstep"
    if args.max_seconds is None:
        args.max_seconds = 1.5 if mode == "lockstep" else 1e9
    _check_args(args)
    t0 = time.perf_counter()
    env = environment()
    models = args.models or plan.default_models()
    backends = args.backends or plan.default_backends()
    if args.no_torch:
        backends = [b for b in backends if b != plan.baseline_backend()]
    configs, skipped = plan.plan_configs(models, backends, args.precision, args.threads or [None])
    max_frames = max(args.frames, args.stream_frames)
    if args.screens_only or args.ef_only:
        clips = []
    elif args.clip:
        clips = [clipmod.load_clip(c, max_frames=max_frames) for c in args.clip]
    else:
        clips = clipmod.default_clips(max_frames=max_frames)
    print(format_environment(env), file=sys.stderr)
    for c in clips:
        print(
            f"clip {c.name}: {c.n_frames} frames {c.size_hw[0]}x{c.size_hw[1]} at {c.fps:.1f} fps, "
            f"decode p50 {c.decode_ms_p50:.2f} ms{' (labelled, simulated)' if c.simulated else ''}",
            file=sys.stderr,
        )
    peaks = {} if (args.no_peak or args.ef_only) else cpu_peaks()
    if peaks:
        print(
            "GEMM peak (numpy float32): "
            + ", ".join(f"{t} thread{'s' * (t > 1)} {p.gflops:.1f} GFLOP/s" for t, p in peaks.items()),
            file=sys.stderr,
        )
    results, batch, streams, max_streams, screens = [], [], [], {}, []
    alternated: dict[tuple, tuple[float, float]] = {}
    cardiac_rows = []
    if args.ef or args.ef_only:  # the cardiac rows (issue 14)
        from rtecho.bench import cardiac

        cardiac_rows = cardiac.run(args)
    if args.ef_only:
        pass
    elif args.streams or args.find_max_streams:
        for cfg in [c for c in configs if c.backend != plan.baseline_backend()] or configs:
            if args.find_max_streams:
                bar = _progress(None, args.quiet, f"{cfg.model} {cfg.backend}/{cfg.precision} streams")
                best, runs = find_max_streams(
                    cfg,
                    clips[0],
                    args.stream_frames,
                    args.stream_fps,
                    args.max_streams,
                    max_seconds=args.max_streams_seconds,
                    shared_engine=args.shared_engine,
                    progress=lambda _r, bar=bar: bar.update(1),
                )
                bar.close()
                max_streams[f"{cfg.model} {cfg.backend}/{cfg.precision}"] = best
                streams += runs
            else:
                streams.append(
                    run_streams(
                        cfg, clips[0], args.streams, args.stream_frames, args.stream_fps, args.shared_engine
                    )
                )
        print(report.format_streams(streams, per_stream=not args.find_max_streams))
        for key, n in max_streams.items():
            print(f"largest N with zero deadline misses and drops: {key}: {n}")
    elif args.batch:
        bar = _progress(len(configs), args.quiet, "batch")
        for cfg in configs:
            try:
                batch.append(
                    bench_batch(
                        cfg,
                        clips[0],
                        args.batch,
                        n_batches=max(3, args.frames // args.batch),
                        max_seconds=args.max_seconds,
                    )
                )
            except (EngineError, MissingExtraError) as exc:
                skipped.append(_skip(cfg, exc))
            bar.update(1)
        bar.close()
        print(report.format_batch(batch))
    elif not args.screens_only:
        torch_clips = clips[:1]  # the baseline runs on the first clip only (time budget)
        units = sum(len(torch_clips if c.backend == plan.baseline_backend() else clips) for c in configs)
        bar = _progress(units, args.quiet, "bench")
        for cfg in configs:
            bar.set_postfix_str(f"{cfg.model} {cfg.backend}/{cfg.precision}")
            cfg_clips = torch_clips if cfg.backend == plan.baseline_backend() else clips
            try:
                results += bench_config(
                    cfg, cfg_clips, args.frames, args.warmup, mode, args.pace_fps, args.max_seconds
                )
            except (EngineError, MissingExtraError) as exc:
                skipped.append(_skip(cfg, exc))
            bar.update(len(cfg_clips))
        bar.close()
        attach_baselines(results, peaks)
        print(
            f"\n{env['cpu']}, {env['cores']} cores, load {env['load_average']}; rtecho {env['rtecho']}; "
            f"{'lockstep (one frame in flight)' if mode == 'lockstep' else 'paced'}, "
            + (
                f"up to {args.frames} frames or {args.max_seconds:g} s per run"
                if mode == "lockstep"
                else f"{args.frames} frames per run"
            )
        )
        print(report.format_table(results))
        if results:
            print(plan.format_acceptance(plan.acceptance(results)))
            alternated = _alternated(results, clips, args.quiet)
            variants = plan.variant_check(results, alternated)
            if variants:
                print(plan.format_variant_check(variants))
            if args.record_variants:
                _record_variants(variants)
    if not (args.no_screens or args.batch or args.streams or args.find_max_streams or args.ef_only):
        screens = _screens(args, skipped)
    for s in skipped:
        if args.precision is None and "does not support" in s["reason"]:
            continue  # every precision was tried by default: only the JSON lists these
        print(f"skipped {s['model']} {s['backend']}/{s['precision']}: {s['reason']}", file=sys.stderr)
    wall = time.perf_counter() - t0
    print(f"total {wall:.1f} s", file=sys.stderr)
    if args.json or args.save or args.plot:
        env["load_average_end"] = load_average()
        doc = report.build_document(
            env,
            _settings(args, mode, models, backends),
            peaks=peaks,
            clips=clips,
            results=results,
            batch=batch,
            streams=streams,
            max_streams=max_streams,
            skipped=skipped,
            wall_s=wall,
        )
        doc["acceptance"] = plan.acceptance(results) if results else []
        doc["variants"] = plan.variant_check(results, alternated) if results else []
        if cardiac_rows:
            doc["cardiac"] = [r.to_dict() for r in cardiac_rows]
            doc["cardiac_acceptance"] = cardiac.acceptance(cardiac_rows)
        if screens:
            doc["screens"] = [r.to_dict() for r in screens]
            doc["screen_acceptance"] = plan.screen_acceptance(screens)
        if args.json:
            print(f"wrote {report.write_json(doc, args.json)}", file=sys.stderr)
        if args.save:
            RESULTS_DIR.mkdir(parents=True, exist_ok=True)
            out = RESULTS_DIR / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
            print(f"saved {report.write_json(doc, out)}", file=sys.stderr)
        if args.plot:
            if not results:
                raise EngineError("--plot needs a stream run (not --batch/--streams)")
            print(f"wrote {report.write_plot(results, args.plot)}", file=sys.stderr)
    return 0


def _alternated(results: list[Any], clips: list[Any], quiet: bool) -> dict[tuple, tuple[float, float]]:
    """Each variant and its fp32 engine called in turn on a real frame (the variant check's measure)."""
    from rtecho.bench import plan
    from rtecho.bench.runner import BenchConfig, alternated_infer
    from rtecho.errors import EngineError, MissingExtraError

    out: dict[tuple, tuple[float, float]] = {}
    pairs = plan.variant_pairs(results)
    bar = _progress(len(pairs), quiet, "variants")
    for model, backend, precision, threads in pairs:
        base = BenchConfig(model, backend, "fp32", threads)
        try:
            out[(model, backend, precision, threads)] = alternated_infer(
                base, BenchConfig(model, backend, precision, threads), clips[0].frames[0].image
            )
        except (EngineError, MissingExtraError) as exc:
            print(f"variant check {model} {backend}/{precision}: {exc}", file=sys.stderr)
        bar.update(1)
    bar.close()
    return out


def _screens(args: argparse.Namespace, skipped: list[dict[str, str]]) -> list[Any]:
    """The full-resolution screen rows: the screen models' configurations (torch eager left out)
    with the ultrasound stage, paced, on pydicom-data's real 640x480 cine and simulator screens."""
    from rtecho.bench import clips as clipmod
    from rtecho.bench import plan, report
    from rtecho.bench.runner import bench_screens
    from rtecho.errors import EngineError, MissingExtraError

    run_models = args.models or plan.default_models()
    models = args.screen_models or ([plan.SCREEN_MODEL] if plan.SCREEN_MODEL in run_models else [])
    if not models:
        return []
    backends = [b for b in (args.backends or plan.default_backends()) if b != plan.baseline_backend()]
    cfgs, _ = plan.plan_configs(models, backends, args.precision, args.threads or [None])
    if not cfgs:
        return []
    t0 = time.perf_counter()
    clips = clipmod.screen_clips(max_frames=args.screen_frames)
    for c in clips:
        print(f"screen clip {c.name}: {c.n_frames} frames at {c.fps:.1f} fps", file=sys.stderr)
    print(f"screen clips ready in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    rows = []
    bar = _progress(len(cfgs) * len(clips), args.quiet, "screens")
    for cfg in cfgs:
        try:
            rows += bench_screens(cfg, clips, args.screen_frames, args.warmup)
        except (EngineError, MissingExtraError) as exc:
            skipped.append(_skip(cfg, exc))
        bar.update(len(clips))
    bar.close()
    if rows:
        print()
        print(report.format_screens(rows))
        print(plan.format_screen_acceptance(plan.screen_acceptance(rows)))
    return rows


def _record_variants(variants: list[dict[str, Any]]) -> None:
    """Write this run's slower-than-fp32 verdicts into the model cards (``--record-variants``)."""
    from rtecho.bench import plan
    from rtecho.runtime import resolve_model
    from rtecho.runtime.precision import record_speed

    for v in variants:
        slower = v["speedup"] < plan.PAYS
        record_speed(resolve_model(v["model"]), v["precision"], v["backend"], v if slower else None)
        print(
            f"recorded {v['model']} {v['backend']}/{v['precision']}: "
            f"{'no faster than fp32 (not offered there)' if slower else 'pays'} ({v['speedup']:.2f}x)",
            file=sys.stderr,
        )


def _skip(cfg: Any, exc: BaseException) -> dict[str, str]:
    return {
        "model": cfg.model,
        "backend": cfg.backend,
        "precision": cfg.precision,
        "reason": str(exc).splitlines()[0][:300],
    }


def _settings(args: argparse.Namespace, mode: str, models: list[str], backends: list[str]) -> dict[str, Any]:
    return {
        "argv": sys.argv[1:],
        "models": models,
        "backends": backends,
        "precisions": args.precision,
        "threads": args.threads,
        "mode": mode,
        "pace_fps": args.pace_fps,
        "realtime": bool(args.realtime),
        "frames": args.frames,
        "warmup": args.warmup,
        "max_seconds": args.max_seconds,
        "batch": args.batch,
        "streams": args.streams,
        "stream_frames": args.stream_frames,
        "stream_fps": args.stream_fps,
        "shared_engine": bool(args.shared_engine),
        "screens": not args.no_screens,
        "screen_frames": args.screen_frames,
    }
