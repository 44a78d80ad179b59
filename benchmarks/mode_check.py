"""Mode gate check: real trace screens of the dev split, simulator screens per layout, real B-mode cines, speed.

Measures only (nothing is fitted here). Prints, per dev screen (../shared/data/dev/modes/KIND/*.png), the
true kind and the gated mode; per simulator layout the share of B-mode/colour screens still classified and
of trace screens gated; the modes of pydicom's real cines; and the gate's time per 480x640 frame.

    PYTHONPATH=$PWD python benchmarks/mode_check.py [--per-view 3] [--seed 11]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from rtecho.types import CLASSIFIED_MODES
from rtecho.ultrasound import ModeGate, SectorDetector
from rtecho.views import VIEWS

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent.parent / "shared" if (ROOT.parent.parent / "shared").exists() else ROOT.parent / "shared"


def gate_one(image: np.ndarray) -> tuple[str, dict[str, float]]:
    det, gate = SectorDetector(), ModeGate()
    r = gate(image, det.update(image))
    return r.mode, r.stats


def dev_screens(root: Path) -> int:
    from PIL import Image

    files = sorted(root.glob("*/*.png"))
    gated = 0
    print(f"dev screens ({root}):")
    for p in files:
        mode, st = gate_one(np.asarray(Image.open(p).convert("RGB")))
        ok = mode not in CLASSIFIED_MODES
        gated += ok
        print(
            f"  {p.parent.name:18s} {p.name[:40]:40s} -> {mode:16s} trace_logit {st.get('trace_logit', float('nan')):6.2f}"
        )
    print(f"  gated {gated}/{len(files)}")
    return gated


def simulator(per_view: int, seed: int) -> None:
    from rtecho.synth.mode_screens import SCREEN_SIZES, sample_mode_screen

    rng = np.random.default_rng(seed)
    tally: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for mode in ("bmode", "color_doppler", "spectral_doppler", "mmode"):
        for view in VIEWS:
            for k in range(per_view):
                hw = SCREEN_SIZES[(k + VIEWS.index(view)) % len(SCREEN_SIZES)]
                s = sample_mode_screen(mode, view, rng, size_hw=hw)
                got, _ = gate_one(s.image)
                right = (
                    (got in CLASSIFIED_MODES) if mode in CLASSIFIED_MODES else (got not in CLASSIFIED_MODES)
                )
                layout = f"{hw[0]}x{hw[1]}" + (f"/{s.truth.layout}/{s.truth.trace}" if s.truth.layout else "")
                for key in ((mode, layout), (mode, "all")):
                    tally[key][0] += right
                    tally[key][1] += 1
    print(
        f"simulator screens (seed {seed}, {per_view} per mode and view; classified for 2-D, gated for traces):"
    )
    for (mode, layout), (r, n) in sorted(tally.items()):
        print(f"  {mode:16s} {layout:36s} {r:4d}/{n:<4d} {r / n:.3f}")


def cines() -> None:
    from pydicom import examples

    from rtecho.io import open_source

    paths = {"pydicom examples.ybr_color": examples.get_path("ybr_color")}
    try:
        from pydicom.data import get_testdata_file

        paths["pydicom-data color3d_jpeg_baseline"] = get_testdata_file(
            "color3d_jpeg_baseline.dcm", download=False
        )
    except (ImportError, ValueError, OSError):
        pass
    pal = SHARED / "data/real/debian-octave-dicom/US-PAL-8-10x-echo.dcm"
    if pal.exists():
        paths["US-PAL-8-10x-echo (colour)"] = pal
    print("real cines (per frame, one stream each):")
    for name, path in paths.items():
        if path is None:
            continue
        det, gate = SectorDetector(), ModeGate()
        with open_source(str(path)) as src:
            modes = Counter(gate(f.image, det.update(f.image)).mode for f in src)
        print(f"  {name:36s} {dict(modes)}")


def speed(n: int = 300) -> None:
    from rtecho.synth.mode_screens import sample_mode_screen

    rng = np.random.default_rng(0)
    for mode in ("bmode", "spectral_doppler"):
        img = sample_mode_screen(mode, "A4C", rng, size_hw=(480, 640)).image
        gate = ModeGate(frozen_frames=10**6)
        ts = []
        for _ in range(n):
            t = time.perf_counter()
            gate(img)
            ts.append(time.perf_counter() - t)
        ts_ms = np.array(ts) * 1e3
        print(
            f"gate time 480x640 {mode:16s} median {np.median(ts_ms):.3f} ms  p99 {np.percentile(ts_ms, 99):.3f} ms"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-view", type=int, default=3)
    ap.add_argument("--seed", type=int, default=11, help="simulator seed (the fit used 0-2)")
    ap.add_argument("--dev", default=str(SHARED / "data/dev/modes"))
    ap.add_argument("--skip", nargs="*", default=[], choices=["dev", "sim", "cines", "speed"])
    args = ap.parse_args(argv)
    if "dev" not in args.skip and Path(args.dev).exists():
        dev_screens(Path(args.dev))
    if "sim" not in args.skip:
        simulator(args.per_view, args.seed)
    if "cines" not in args.skip:
        cines()
    if "speed" not in args.skip:
        speed()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
