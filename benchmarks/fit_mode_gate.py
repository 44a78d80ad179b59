"""Fit the mode gate's trace-screen classifier (rtecho/data/mode_gate.json) on simulator screens and
permissively licensed real B-mode frames only.

Positives: simulator spectral Doppler, tissue Doppler and M-mode screens of every layout, size, crop and
JPEG quality (rtecho.synth.mode_screens). Negatives: simulator B-mode and colour-Doppler screens (with
furniture, toolbars, zoomed fans, crops, JPEG), framed simulator stills, and real B-mode frames whose
licence allows it: the MIT-licensed stills in ../shared/data/real/raventan95-echo-view-classifier and
pydicom's ``examples.ybr_color`` and pydicom-data's ``color3d_jpeg_baseline.dcm`` cines (augmented by
crops, resizes and JPEG). Nothing from ../shared/data/dev is read here.

Two logistic regressions on the standardised :data:`rtecho.ultrasound._mode_features.FEATURES`: trace screen
vs 2-D screen (every frame), and M-mode vs spectral (trace screens only). Fitting: L2-penalised Newton
steps (IRLS) on the weighted log loss, sum_i c_i log(1 + exp(-y_i z_i)) + lam/2 |w|^2.

    PYTHONPATH=$PWD python benchmarks/fit_mode_gate.py --per-view 8 --out rtecho/data/mode_gate.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from rtecho.ultrasound._mode_features import FEATURES, layout_features, screen_grid
from rtecho.views import VIEWS

ROOT = Path(__file__).resolve().parents[1]
RAVEN = ROOT.parent.parent / "shared/data/real/raventan95-echo-view-classifier"
MODES4 = ("bmode", "color_doppler", "spectral_doppler", "mmode")


GRID = 168  # grids are kept padded to GRID x GRID (with their shape) so that features can be re-computed


def features(image: np.ndarray) -> np.ndarray:
    """The screen's grey grid, padded to GRID x GRID, with its shape in the last row's first two cells."""
    g = screen_grid(image)[0]
    out = np.zeros((GRID + 1, GRID), np.float16)
    out[: g.shape[0], : g.shape[1]] = g
    out[GRID, :2] = g.shape
    return out


def grid_features(grids: np.ndarray) -> np.ndarray:
    """:data:`FEATURES` of each padded grid."""
    out = []
    for g in grids:
        hs, ws = int(g[GRID, 0]), int(g[GRID, 1])
        out.append(layout_features(g[:hs, :ws].astype(np.float32)))
    return np.array(out)


def simulator_set(seed: int, per_view: int) -> tuple[np.ndarray, np.ndarray]:
    """Features and modes of per_view screens of each mode and view, plus framed B-mode stills."""
    from rtecho.synth import SynthConfig, render_view
    from rtecho.synth.mode_screens import sample_mode_screen

    rng = np.random.default_rng(seed)
    xs, ms = [], []
    for mode in MODES4:
        for view in VIEWS:
            for _ in range(per_view):
                xs.append(features(sample_mode_screen(mode, view, rng).image))
                ms.append(mode)
    cfg = SynthConfig(screen_prob=1.0)
    for view in VIEWS:
        for _ in range(max(1, per_view // 2)):
            hw = ((240, 320), (300, 400), (128, 128))[int(rng.integers(0, 3))]
            xs.append(features(render_view(view, rng, size_hw=hw, config=cfg)))
            ms.append("bmode")
    return np.array(xs), np.array(ms)


def real_frames() -> list[tuple[str, np.ndarray]]:
    """(name, RGB or grey uint8) of the permissively licensed real B-mode frames."""
    from PIL import Image
    from pydicom import examples
    from pydicom.data import get_testdata_file

    from rtecho.io import open_source

    out = [(p.name, np.asarray(Image.open(p).convert("RGB"))) for p in sorted(RAVEN.glob("*.*g"))]
    for name, path in (
        ("ybr_color", examples.get_path("ybr_color")),
        ("color3d", get_testdata_file("color3d_jpeg_baseline.dcm", download=False)),
    ):
        with open_source(str(path)) as src:
            for i, f in enumerate(src):
                if i % 6 == 0:
                    out.append((f"{name}#{i}", f.image))
    return out


def augment(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A crop, a resize to a screen size and JPEG, as the same frame would be exported elsewhere."""
    from PIL import Image

    from rtecho.synth.render import jpeg_roundtrip

    h, w = image.shape[:2]
    ch, cw = int(h * rng.uniform(0.85, 1.0)), int(w * rng.uniform(0.85, 1.0))
    y0, x0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    img = Image.fromarray(np.ascontiguousarray(image[y0 : y0 + ch, x0 : x0 + cw]))
    s = rng.uniform(0.6, 2.0)
    img = np.asarray(img.resize((max(int(cw * s), 32), max(int(ch * s), 32)), Image.BILINEAR))
    return jpeg_roundtrip(img, int(rng.uniform(40, 95))) if rng.random() < 0.6 else img


def real_set(seed: int, n_aug: int) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    xs, names = [], []
    for name, img in real_frames():
        xs.append(features(img))
        names.append(name)
        for _ in range(n_aug):
            xs.append(features(augment(img, rng)))
            names.append(name + "+aug")
    return np.array(xs), names


def fit_logistic(
    x: np.ndarray, y: np.ndarray, c: np.ndarray, lam: float = 1.0, iters: int = 30
) -> np.ndarray:
    """IRLS for weighted L2 logistic regression; x has a trailing column of ones (not penalised)."""
    w = np.zeros(x.shape[1])
    pen = np.full(x.shape[1], lam)
    pen[-1] = 0.0
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        g = x.T @ (c * (p - y)) + pen * w
        hess = (x * (c * p * (1 - p))[:, None]).T @ x + np.diag(pen + 1e-9)
        step = np.linalg.solve(hess, g)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def fit_mlp(
    x: np.ndarray, y: np.ndarray, c: np.ndarray, hidden: int = 12, lam: float = 1e-2, seed: int = 0
) -> dict[str, np.ndarray]:
    """One tanh hidden layer, sigmoid output: L-BFGS on the weighted log loss + lam/2 |W|^2 (biases free)."""
    from scipy.optimize import minimize

    n, f = x.shape
    rng = np.random.default_rng(seed)
    shapes = {"w1": (hidden, f), "b1": (hidden,), "w2": (hidden,), "b2": ()}
    sizes = [int(np.prod(s)) for s in shapes.values()]

    def unpack(theta: np.ndarray) -> dict[str, np.ndarray]:
        out, k = {}, 0
        for (name, shp), sz in zip(shapes.items(), sizes, strict=True):
            out[name] = theta[k : k + sz].reshape(shp)
            k += sz
        return out

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        p = unpack(theta)
        h = np.tanh(x @ p["w1"].T + p["b1"])
        z = h @ p["w2"] + p["b2"]
        # log(1 + exp(-s z)) with s = +-1, stable
        s = 2 * y - 1
        ll = np.logaddexp(0, -s * z)
        dz = c * (-s / (1 + np.exp(s * z)))
        g = {"w2": h.T @ dz + lam * p["w2"], "b2": np.array(dz.sum())}
        dh = np.outer(dz, p["w2"]) * (1 - h * h)
        g["w1"] = dh.T @ x + lam * p["w1"]
        g["b1"] = dh.sum(axis=0)
        val = float((c * ll).sum() + 0.5 * lam * ((p["w1"] ** 2).sum() + (p["w2"] ** 2).sum()))
        return val, np.concatenate([g[k].ravel() for k in shapes])

    theta0 = np.concatenate([rng.normal(0, 0.3, sz) for sz in sizes])
    res = minimize(loss, theta0, jac=True, method="L-BFGS-B", options={"maxiter": 2000})
    return unpack(res.x)


def standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mu, sd = x.mean(axis=0), x.std(axis=0)
    return mu, np.where(sd > 1e-6, sd, 1.0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-view", type=int, default=8, help="training screens per mode and view")
    ap.add_argument("--val-per-view", type=int, default=4, help="validation screens per mode and view")
    ap.add_argument("--real-aug", type=int, default=6, help="augmented copies of each real frame")
    ap.add_argument("--lam", type=float, default=1.0)
    ap.add_argument("--hidden", type=int, default=12, help="hidden units of the trace MLP (0: logistic only)")
    ap.add_argument("--mlp-lam", type=float, default=1e-2)
    ap.add_argument("--cache", default="", help="npz to keep the features in (re-fits skip rendering)")
    ap.add_argument("--out", default=str(ROOT / "rtecho/data/mode_gate.json"))
    args = ap.parse_args(argv)
    t0 = time.time()
    cache = Path(args.cache) if args.cache else None
    if cache is not None and cache.exists():
        z = np.load(cache)
        xt, mt, xv, mv, xr = z["xt"], z["mt"], z["xv"], z["mv"], z["xr"]
    else:
        xt, mt = simulator_set(0, args.per_view)
        xv, mv = simulator_set(1, args.val_per_view)
        xr, _ = real_set(2, args.real_aug)
        if cache is not None:
            np.savez(cache, xt=xt, mt=mt, xv=xv, mv=mv, xr=xr)
    xt, xv, xr = grid_features(xt), grid_features(xv), grid_features(xr)
    print(f"features: {len(xt)} train, {len(xv)} val simulator, {len(xr)} real ({time.time() - t0:.0f} s)")
    trace = np.isin(mt, ("spectral_doppler", "mmode"))
    x = np.concatenate([xt, xr])
    y = np.concatenate([trace, np.zeros(len(xr), bool)]).astype(float)
    # balanced classes; the real frames weigh as much as all the simulator 2-D screens together
    c = np.concatenate(
        [np.where(trace, 0.5 / trace.sum(), 0.5 * 0.5 / (~trace).sum()), np.full(len(xr), 0.25 / len(xr))]
    )
    c *= len(c)
    mu, sd = standardise(x)
    ones = np.ones((len(x), 1))
    w = fit_logistic(np.hstack([(x - mu) / sd, ones]), y, c, args.lam)
    mlp = fit_mlp((x - mu) / sd, y, c / c.sum() * 100, args.hidden, args.mlp_lam) if args.hidden else None
    mm = mt[trace] == "mmode"
    xm = xt[trace]
    wm = fit_logistic(
        np.hstack([(xm - mu) / sd, np.ones((len(xm), 1))]), mm.astype(float), np.ones(len(xm)), args.lam
    )

    def predict(xx: np.ndarray) -> np.ndarray:
        zz = np.hstack([(xx - mu) / sd, np.ones((len(xx), 1))])
        is_trace = zz @ w > 0
        if mlp is not None:
            is_trace = np.tanh(zz[:, :-1] @ mlp["w1"].T + mlp["b1"]) @ mlp["w2"] + mlp["b2"] > 0
        return np.where(is_trace, np.where(zz @ wm > 0, "mmode", "spectral_doppler"), "2d")

    for name, xx, mm_ in (("train", xt, mt), ("val", xv, mv)):
        pred = predict(xx)
        for mode in MODES4:
            sel = mm_ == mode
            ok = (pred[sel] == "2d") if mode in ("bmode", "color_doppler") else (pred[sel] != "2d")
            exact = pred[sel] == mode
            print(
                f"{name:5s} {mode:16s} n={sel.sum():4d} right side of the gate {ok.mean():.3f}  exact {exact.mean():.3f}"
            )
    pr = predict(xr)
    print(f"real  2-D frames  n={len(xr)} classified {np.mean(pr == '2d'):.3f}")
    model = {
        "what": "rtecho mode gate: trace screen vs 2-D screen, and M-mode vs spectral, logistic on layout features",
        "fitted_by": "benchmarks/fit_mode_gate.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "data": "simulator screens (rtecho.synth.mode_screens, seeds 0/1) and real B-mode frames: "
        "raventan95/echo-view-classifier (MIT), pydicom examples ybr_color, pydicom-data color3d_jpeg_baseline",
        "features": list(FEATURES),
        "mean": [round(float(v), 6) for v in mu],
        "std": [round(float(v), 6) for v in sd],
        "trace": {"w": [round(float(v), 6) for v in w[:-1]], "b": round(float(w[-1]), 6)},
        "trace_mlp": None if mlp is None else {k: np.round(v, 6).tolist() for k, v in mlp.items()},
        "mmode": {"w": [round(float(v), 6) for v in wm[:-1]], "b": round(float(wm[-1]), 6)},
    }
    Path(args.out).write_text(json.dumps(model, indent=1) + "\n")
    print(f"wrote {args.out} ({time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
