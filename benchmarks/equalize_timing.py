"""What the card's ``equalize`` adds to one Preprocessor call: off and on alternated in one process.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/equalize_timing.py --size 480 640 --net 128 --n 2000

A synthetic fan of speckle-like grey levels on black (grey and RGB), resized to the network input;
prints median and p99 per setting and the median difference (ms). Shared machines are noisy: read the
difference, measured interleaved, not the absolute times.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from rtecho.runtime.preprocess import Preprocessor
from rtecho.types import ModelCard


def fan_frame(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    fan = (np.abs(x - w / 2) < 0.45 * y + 2) & (y > 2) & (y < h - 3)
    img = np.zeros((h, w), np.uint8)
    img[fan] = np.clip(rng.gamma(2.0, 40.0, fan.sum()) + 20, 20, 220).astype(np.uint8)
    return img


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, nargs=2, default=(480, 640), metavar=("H", "W"))
    p.add_argument("--net", type=int, default=128, help="square network input size")
    p.add_argument("--n", type=int, default=2000, help="calls per setting")
    args = p.parse_args(argv)
    grey = fan_frame(*args.size)
    card = {
        e: ModelCard("m", "x", ("A2C", "A4C"), (args.net, args.net), mean=(0.5,), std=(0.25,), equalize=e)
        for e in (False, True)
    }
    pre = {e: Preprocessor(c) for e, c in card.items()}
    for name, img in (("grey", grey), ("rgb", np.dstack([grey] * 3))):
        times: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(50):  # warm-up
            pre[False](img), pre[True](img)
        for i in range(args.n):
            for e in (False, True) if i % 2 else (True, False):
                t0 = time.perf_counter()
                pre[e](img)
                times[e].append(time.perf_counter() - t0)
        ms = {e: np.array(t) * 1e3 for e, t in times.items()}
        for e in (False, True):
            print(
                f"{name} {args.size[0]}x{args.size[1]} -> {args.net}x{args.net} equalize={e}: "
                f"median {np.median(ms[e]):.3f} ms, p99 {np.percentile(ms[e], 99):.3f} ms"
            )
        print(f"{name}: equalize adds {np.median(ms[True]) - np.median(ms[False]):.3f} ms (median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
