"""Which configurations a run covers, and the acceptance check on the results."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rtecho.bench.runner import BenchConfig, BenchResult
from rtecho.card import ModelCard
from rtecho.errors import EngineError, MissingExtraError
from rtecho.runtime import (
    DEFAULT_MODEL,
    PRECISIONS,
    Engine,
    available_backends,
    get_backend,
    list_backends,
    list_models,
    open_model,
)

LIMIT_MS = 13.0
#: A variant pays on a backend when it is at least this much faster than fp32 there
#: (``--record-variants`` marks the others as not offered).
PAYS = 1.05
#: The model of the full-resolution screen rows: ``rtecho run``'s default classifier.
SCREEN_MODEL = DEFAULT_MODEL
LIMIT_SMALL_MS = 3.0
SMALL_MODELS = ("darts1", "darts2")


def default_models() -> list[str]:
    """Every classifier in the engine directories; ``tiny-untrained`` only when there is no other.
    (Segmenters run beside a classifier, not in its place: benchmarks/seg_check.py times them.)"""
    from rtecho.runtime import load_card

    names = [p.stem for p in list_models() if load_card(p, verify=False).task == "classification"]
    shipped = [n for n in names if n != "tiny-untrained"]
    return shipped or names


def baseline_backend() -> str | None:
    """The registered backend that is the bench's speed-up baseline (``Engine.bench_baseline``:
    torch eager), or None."""
    return next((b for b in list_backends() if get_backend(b).engine_class().bench_baseline), None)


def default_backends() -> list[str]:
    """Every installed backend (the baseline last: it is the speed-up baseline)."""
    found, base = available_backends(), baseline_backend()
    return [b for b in found if b != base] + ([base] if base in found else [])


def plan_configs(
    models: Sequence[str],
    backends: Sequence[str],
    precisions: Sequence[str] | None = None,
    threads: Sequence[int | None] = (None,),
) -> tuple[list[BenchConfig], list[dict[str, str]]]:
    """Every (model, backend, precision, threads) to run, and every combination skipped, with why.

    A precision is skipped when the backend does not support it or the variant file the backend
    reads for it (``Engine.variant_file``, e.g. ``NAME.int8.onnx``) is missing; the baseline backend
    runs fp32 only, silently.
    """
    precisions = list(precisions or PRECISIONS)
    for p in precisions:
        if p not in PRECISIONS:
            raise EngineError(f"unknown precision {p!r}; known: {', '.join(PRECISIONS)}")
    configs: list[BenchConfig] = []
    skipped: list[dict[str, str]] = []
    for model in models:
        found = open_model(model, verify=False)
        for backend in backends:
            try:
                cls = get_backend(backend).load_class()
            except MissingExtraError as exc:
                skipped.append({"model": model, "backend": backend, "precision": "*", "reason": str(exc)})
                continue
            for precision in precisions:
                why = _skip_reason(found.path, found.card, cls, precision)
                if why:
                    if not (cls.bench_baseline and precision != "fp32"):
                        skipped.append(
                            {"model": model, "backend": backend, "precision": precision, "reason": why}
                        )
                    continue
                for t in threads:
                    configs.append(BenchConfig(str(model), backend, precision, t))
    return configs, skipped


def _skip_reason(path: Path, card: ModelCard, cls: type[Engine], precision: str) -> str | None:
    if precision not in cls.precisions:
        return f"{cls.backend} does not support {precision} (supported: {', '.join(cls.precisions)})"
    file = cls.variant_file(path, card, precision)
    if file is not None and not file.is_file():
        return f"no {file.name} (make it with {cls.how_to_make(card, precision)})"
    return None


def acceptance(results: Sequence[BenchResult]) -> list[dict[str, Any]]:
    """Per model: the best configuration by end-to-end p99 (worst clip), against the 13 ms limit
    (every model, native input size) and the 3 ms limit (darts1/darts2 at 128x128)."""
    out = []
    by_model: dict[str, dict[tuple, float]] = {}
    base = baseline_backend()
    for r in results:
        if r.backend == base:
            continue
        key = (r.backend, r.precision, r.threads, tuple(r.input_size_hw))
        worst = by_model.setdefault(r.model, {})
        p99 = r.stat("end_to_end", "p99")
        worst[key] = max(worst.get(key, -math.inf), p99)
    for model, configs in by_model.items():
        (backend, precision, threads, size), p99 = min(configs.items(), key=lambda kv: kv[1])
        limit = LIMIT_SMALL_MS if model in SMALL_MODELS and size == (128, 128) else LIMIT_MS
        out.append(
            {
                "model": model,
                "backend": backend,
                "precision": precision,
                "threads": threads,
                "input_size_hw": list(size),
                "e2e_p99_ms": round(p99, 4),
                "limit_ms": limit,
                "ok": bool(p99 < limit),
            }
        )
    return out


def format_acceptance(rows: Sequence[dict[str, Any]]) -> str:
    lines = ["acceptance (best configuration per model, e2e p99 over the worst clip):"]
    for a in rows:
        lines.append(
            f"  {a['model']:<22}{a['backend']}/{a['precision']} thr {a['threads']}: {a['e2e_p99_ms']:.2f} ms "
            f"{'<' if a['ok'] else '>='} {a['limit_ms']:g} ms  {'OK' if a['ok'] else 'MISSED'}"
        )
    return "\n".join(lines)


def screen_acceptance(rows: Sequence[BenchResult]) -> list[dict[str, Any]]:
    """Per configuration of the full-resolution screen rows (ultrasound stage on, paced): e2e p99
    over its worst screen against the 13 ms limit, and late frames (results later than one period)."""
    out: dict[tuple, dict[str, Any]] = {}
    for r in rows:
        key = (r.model, r.backend, r.precision, r.threads)
        a = out.setdefault(
            key,
            {
                "model": r.model,
                "backend": r.backend,
                "precision": r.precision,
                "threads": r.threads,
                "e2e_p99_ms": -math.inf,
                "late": 0,
                "dropped": 0,
                "worst_clip": r.clip,
            },
        )
        p99 = r.stat("end_to_end", "p99")
        if p99 > a["e2e_p99_ms"]:
            a["e2e_p99_ms"], a["worst_clip"] = p99, r.clip
        a["late"] += int(r.deadline_misses or 0)
        a["dropped"] += r.dropped
    for a in out.values():
        a["e2e_p99_ms"] = round(a["e2e_p99_ms"], 4)
        a["limit_ms"] = LIMIT_MS
        a["ok"] = bool(a["e2e_p99_ms"] < LIMIT_MS and a["late"] == 0 and a["dropped"] == 0)
    return list(out.values())


def format_screen_acceptance(rows: Sequence[dict[str, Any]]) -> str:
    lines = ["screen acceptance (ultrasound stage on, paced; e2e p99 over the worst screen, late frames):"]
    for a in rows:
        lines.append(
            f"  {a['model']:<22}{a['backend']}/{a['precision']} thr {a['threads']}: {a['e2e_p99_ms']:.2f} ms "
            f"{'<' if a['e2e_p99_ms'] < a['limit_ms'] else '>='} {a['limit_ms']:g} ms ({a['worst_clip']}), "
            f"{a['late']} late, {a['dropped']} dropped  {'OK' if a['ok'] else 'MISSED'}"
        )
    return "\n".join(lines)


def variant_pairs(results: Sequence[BenchResult]) -> list[tuple[str, str, str, int | None]]:
    """(model, backend, precision, threads) of every non-fp32 variant with an fp32 row beside it."""
    return list(_variant_groups(results))


def _variant_groups(results: Sequence[BenchResult]) -> dict[tuple, list[tuple[BenchResult, BenchResult]]]:
    fp32 = {(r.model, r.backend, r.threads, r.clip): r for r in results if r.precision == "fp32"}
    groups: dict[tuple, list[tuple[BenchResult, BenchResult]]] = {}
    baseline = baseline_backend()
    for r in results:
        base = fp32.get((r.model, r.backend, r.threads, r.clip))
        if r.precision != "fp32" and r.backend != baseline and base is not None:
            groups.setdefault((r.model, r.backend, r.precision, r.threads), []).append((r, base))
    return groups


def variant_check(
    results: Sequence[BenchResult], alternated: dict[tuple, tuple[float, float]] | None = None
) -> list[dict[str, Any]]:
    """Each non-fp32 variant against fp32 on the same backend, model, threads and clip, in this run.

    ``speedup`` = fp32 / variant engine-call p50 of the two called in turn (``alternated``, keyed as
    :func:`variant_pairs`: :func:`~rtecho.bench.runner.alternated_infer`), else of the stream runs' infer
    p50 over the clips (their median). A variant the backend offers must not be slower (``ok`` False
    otherwise); one it does not offer is reported with the backend's reason, and with a note when
    this run measured it faster after all."""
    out = []
    for key, pairs in _variant_groups(results).items():
        model, backend, precision, threads = key
        ratios = [b.stat("infer") / r.stat("infer") for r, b in pairs]
        speedup = float(sorted(ratios)[len(ratios) // 2])
        infer_ms = float(np.median([r.stat("infer") for r, _ in pairs]))
        fp32_ms = float(np.median([b.stat("infer") for _, b in pairs]))
        method = "stream runs"
        if alternated and key in alternated:
            fp32_ms, infer_ms = alternated[key]
            speedup, method = fp32_ms / infer_ms, "alternated"
        offered = pairs[0][0].not_offered is None
        out.append(
            {
                "model": model,
                "backend": backend,
                "precision": precision,
                "threads": threads,
                "infer_ms": round(infer_ms, 4),
                "fp32_infer_ms": round(fp32_ms, 4),
                "speedup": round(speedup, 3),
                "method": method,
                "offered": offered,
                "not_offered": pairs[0][0].not_offered,
                "ok": bool(not offered or speedup >= 1.0),
            }
        )
    return out


def format_variant_check(rows: Sequence[dict[str, Any]]) -> str:
    how = "engine calls alternated with fp32" if rows and rows[0].get("method") == "alternated" else "infer"
    lines = [f"variants against fp32 on the same backend ({how}, p50, this run):"]
    for v in rows:
        verdict = (
            ("OK" if v["ok"] else "SLOWER than fp32 but offered")
            if v["offered"]
            else "not offered" + (" (faster in this run: re-measure)" if v["speedup"] > 1.1 else "")
        )
        lines.append(
            f"  {v['model']:<22}{v['backend']}/{v['precision']} thr {v['threads']}: {v['infer_ms']:.3f} ms vs "
            f"{v['fp32_infer_ms']:.3f} ms fp32 ({v['speedup']:.2f}x)  {verdict}"
        )
    return "\n".join(lines)
