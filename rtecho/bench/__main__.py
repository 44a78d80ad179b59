"""``python -m rtecho.bench [--models ...] [--backends ...] [--clip PATH] [--frames N] [--json OUT]``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from rtecho.bench.core import bench_model, environment, format_table, load_clip, pydicom_a4c
    from rtecho.errors import RtechoError
    from rtecho.runtime import available_backends, list_models

    ap = argparse.ArgumentParser(prog="python -m rtecho.bench", description=__doc__)
    ap.add_argument(
        "--models", nargs="*", help="model names or ONNX paths (default: every model in engines/)"
    )
    ap.add_argument("--backends", nargs="*", help="backends (default: every installed CPU backend)")
    ap.add_argument("--precision", nargs="*", default=["fp32"], help="precisions to try")
    ap.add_argument("--clip", default=None, help="clip to replay (default: pydicom's real A4C cine)")
    ap.add_argument("--frames", type=int, default=300, help="frames per run (the clip is looped)")
    ap.add_argument("--no-pace", action="store_true", help="push frames as fast as possible (throughput)")
    ap.add_argument("--threads", type=int, default=None, help="inference threads")
    ap.add_argument("--json", default=None, help="write results and environment as JSON here")
    args = ap.parse_args(argv)

    try:
        models = (
            args.models or [p.stem for p in list_models() if p.stem != "tiny-untrained"] or ["tiny-untrained"]
        )
        backends = args.backends or [b for b in available_backends() if b in ("onnxruntime", "openvino")]
        clip = args.clip or pydicom_a4c()
        frames, fps, clip_name = load_clip(clip)
        decode = sorted(f.decode_ms for f in frames)
        print(
            f"clip {clip_name}: {len(frames)} frames {frames[0].size_hw[0]}x{frames[0].size_hw[1]} at {fps:.1f} fps, "
            f"decode p50 {decode[len(decode) // 2]:.2f} ms; replayed {args.frames} frames "
            f"{'as fast as possible' if args.no_pace else 'paced at the clip fps'}",
            file=sys.stderr,
        )
        results = []
        opts = {"threads": args.threads} if args.threads else {}
        for model in models:
            for backend in backends:
                for precision in args.precision:
                    print(f"  {model} on {backend}/{precision} ...", file=sys.stderr)
                    results.append(
                        bench_model(
                            model,
                            frames,
                            fps,
                            clip_name,
                            backend=backend,
                            precision=precision,
                            n_frames=args.frames,
                            pace=not args.no_pace,
                            **opts,
                        )
                    )
    except RtechoError as exc:
        print(f"rtecho.bench: error: {exc}", file=sys.stderr)
        return 1
    env = environment()
    print(f"\n{env['cpu']}, {env['cores']} cores, python {env['python']}, rtecho {env['rtecho']}")
    print(format_table(results))
    print("times in ms; e2e = frame arrival to result; ovh = e2e p50 - infer p50")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(
            json.dumps({"environment": env, "results": [r.to_dict() for r in results]}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
