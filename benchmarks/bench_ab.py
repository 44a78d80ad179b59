"""Compare `python -m rtecho.bench --json` runs of two trees, alternated (old new old new ...) in one session.

    # in each tree, one after the other, repeated:  PYTHONPATH=TREE python -m rtecho.bench --json R.json
    python benchmarks/bench_ab.py --old o1.json o2.json --new n1.json n2.json --out ab.json

Per row (model, backend, precision, threads, clip, mode; the screen rows too) the ratio new/old of infer
p50, preprocess p50, end-to-end p50 and p99, per round and best-of-rounds (the least loaded run of each
side); reported as the median over rows with the interquartile range, because a shared machine makes
single rows noisy. Accuracy must be equal row for row (a row with random weights has none).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys

KEYS = {"infer_p50": ("infer", "p50"), "preprocess_p50": ("preprocess", "p50")}
KEYS |= {"e2e_p50": ("end_to_end", "p50"), "e2e_p99": ("end_to_end", "p99")}


def rows(path: str, section: str) -> dict[tuple, dict]:
    with open(path) as f:
        data = json.load(f)
    out = {}
    for r in data.get(section) or []:
        key = (r["model"], r["backend"], r["precision"], r.get("threads"), r["clip"], r.get("mode"))
        lat = r["latency_ms"]
        out[key] = {name: lat[a][b] for name, (a, b) in KEYS.items()} | {"accuracy": r.get("accuracy")}
    return out


def summary(ratios: list[float]) -> dict:
    if not ratios:
        return {"median_ratio": None, "iqr": None}
    q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    return {"median_ratio": round(statistics.median(ratios), 3), "iqr": [round(q[0], 3), round(q[2], 3)]}


def compare(old: list[str], new: list[str], section: str) -> dict:
    olds, news = [rows(p, section) for p in old], [rows(p, section) for p in new]
    common = sorted(set.intersection(*(set(r) for r in olds + news)), key=str)
    out: dict = {"rows": len(common), "rounds": []}
    for i, (o, n) in enumerate(zip(olds, news, strict=True), 1):
        rnd = {"round": i}
        for name in KEYS:
            rnd[name] = summary([n[k][name] / o[k][name] for k in common if o[k][name]])
        rnd["accuracy_equal"] = sum(o[k]["accuracy"] == n[k]["accuracy"] for k in common)
        out["rounds"].append(rnd)
    best = {}
    for name in KEYS:
        pairs = [(min(n[k][name] for n in news), min(o[k][name] for o in olds)) for k in common]
        best[name] = summary([a / b for a, b in pairs if b])
    out["best_of_rounds"] = best
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--old", nargs="+", required=True, help="bench JSONs of the old tree, in run order")
    p.add_argument("--new", nargs="+", required=True, help="bench JSONs of the new tree, in run order")
    p.add_argument("--label", default="", help="what old and new are (commits)")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    if len(args.old) != len(args.new):
        p.error("give as many --old as --new runs (one pair a round)")
    result = {"benchmark": "bench_ab", "label": args.label, "old": args.old, "new": args.new}
    for section in ("results", "screens"):
        result[section] = compare(args.old, args.new, section)
    text = json.dumps(result, indent=1)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
