"""A simulated scanning session: six views with searching transitions, as noisy classifier logits."""

from __future__ import annotations

import numpy as np

from rtecho.views import VIEWS

LABELS = VIEWS[:12]


def session_logits(
    rng: np.random.Generator, fps: float = 30.0, n_views: int = 6
) -> tuple[np.ndarray, np.ndarray, list[tuple[str, float]]]:
    """(logits (N, K), timestamps (N,), truth [(view, start_s)]) for one session.

    Each view is held 3-6 s; between views 0.4-0.8 s of searching (flat noisy logits). While on a
    view the true class leads by a noisy margin, with short bursts (2-5 frames) of a confusable view.
    """
    views = rng.choice(len(LABELS), n_views, replace=False)
    logits, times, truth = [], [], []
    t = 0.0
    for k, v in enumerate(views):
        if k > 0:
            for _ in range(int(rng.uniform(0.4, 0.8) * fps)):
                logits.append(rng.normal(0, 1.0, len(LABELS)))
                times.append(t)
                t += 1 / fps
        truth.append((LABELS[v], t))
        n = int(rng.uniform(3, 6) * fps)
        z = rng.normal(0, 1.0, (n, len(LABELS)))
        z[:, v] += 3.0
        for _ in range(int(n / fps / 1.5)):
            i, w = int(rng.integers(0, n - 5)), int(rng.integers(2, 6))
            z[i : i + w, int(rng.integers(len(LABELS)))] += 4.0
        logits.extend(z)
        times.extend(t + np.arange(n) / fps)
        t += n / fps
    return np.array(logits), np.array(times), truth


# -- a rendered scanning session through the real pipeline ------------------------------------------

SESSION_VIEWS = ("A4C", "A2C", "A3C", "PLAX", "PSAX-MV", "SC4C")


def render_session(
    rng: np.random.Generator,
    views: tuple[str, ...] = SESSION_VIEWS,
    fps: float = 30.0,
    hold_s: tuple[float, float] = (2.0, 3.0),
    transition_s: float = 0.5,
    size_hw: tuple[int, int] = (128, 128),
) -> tuple[list[np.ndarray], np.ndarray, list[tuple[str, float]]]:
    """(frames, timestamps, truth [(view, start_s)]) of a simulated session through ``views``.

    Each view is a beating cine loop (:func:`rtecho.synth.render_cine`) held ``hold_s`` seconds;
    between views ``transition_s`` of searching: a cross-fade out of the last view into off-axis
    frames (``OTHER``, a new one every few frames) and back in to the next view's first frame. A
    view starts (truth) at its first full frame.
    """
    from rtecho.synth import render_cine, render_view

    frames: list[np.ndarray] = []
    truth: list[tuple[str, float]] = []
    n_trans = int(round(transition_s * fps))
    for k, view in enumerate(views):
        n = int(round(rng.uniform(*hold_s) * fps))
        cine = render_cine(view, rng, n_frames=n, fps=fps, size_hw=size_hw).frames
        if k > 0:
            prev = frames[-1].astype(np.float32)
            off = render_view("OTHER", rng, size_hw=size_hw).astype(np.float32)
            for i in range(n_trans):
                if i % 5 == 0 and i > 0:
                    off = render_view("OTHER", rng, size_hw=size_hw).astype(np.float32)
                u = (i + 1) / (n_trans + 1)
                a = max(0.0, 1.0 - 3 * u)  # previous view fades out over the first third
                b = max(0.0, 3 * u - 2.0)  # next view fades in over the last third
                mix = a * prev + b * cine[0].astype(np.float32) + (1 - a - b) * off
                frames.append(np.clip(mix, 0, 255).astype(np.uint8))
        truth.append((view, len(frames) / fps))
        frames.extend(np.asarray(cine))
    return frames, np.arange(len(frames)) / fps, truth


def score_events(
    events: list, truth: list[tuple[str, float]], tol_s: float = 0.5, early_s: float = 0.5
) -> tuple[list[float | None], int]:
    """Per true view, the delay of the event that reports it (None: missed), and the spurious count.

    An event matches a view when it names it and comes at most ``early_s`` before (during the
    transition) and ``tol_s`` after its first frame; every other event is spurious.
    """
    delays: list[float | None] = []
    used: set[int] = set()
    for view, start in truth:
        hit = None
        for i, e in enumerate(events):
            if i not in used and e.to_label == view and start - early_s <= e.timestamp <= start + tol_s:
                hit = i
                break
        if hit is None:
            delays.append(None)
        else:
            used.add(hit)
            delays.append(float(events[hit].timestamp - start))
    return delays, len(events) - len(used)


def session_outputs(engine, frames: list[np.ndarray], times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run the frames through the stream processor with the ultrasound stages (identity calibration);
    returns per-frame log-probabilities (N, K) (NaN rows: not classified) and modes."""
    from rtecho.pipeline import StreamProcessor, build_pipeline

    k = len(engine.card.labels)
    out = np.full((len(frames), k), np.nan)
    modes = []
    with StreamProcessor(engine, pipeline=build_pipeline(engine, ultrasound=True)) as proc:
        for i, (im, t) in enumerate(zip(frames, times, strict=True)):
            p = proc.process(im, timestamp=float(t))
            modes.append(p.mode)
            if p.probabilities is not None:
                out[i] = np.log(np.clip(p.probabilities.astype(np.float64), 1e-12, 1.0))
    return out, np.array(modes)


def replay(
    logits: np.ndarray,
    times: np.ndarray,
    labels: tuple[str, ...],
    calibration=None,
    hold_labels: tuple[str, ...] = ("OTHER",),
    **smoother_kw,
):
    """The view-change events of the calibration + smoother on recorded logits (what
    :mod:`rtecho.pipeline.ultrasound`'s calibrate and smooth stages do in the stream)."""
    from rtecho.ultrasound.calibration import Calibration
    from rtecho.ultrasound.smoothing import TemporalSmoother

    cal = calibration or Calibration()
    sm = TemporalSmoother(labels, **smoother_kw)
    for i, (z, t) in enumerate(zip(logits, times, strict=True)):
        if np.isnan(z).any():
            sm.hold(float(t))
            continue
        p, ok = cal.apply(z)
        ok = ok and labels[int(np.argmax(p))] not in hold_labels
        sm.update(p, float(t), i) if ok else sm.hold(float(t))
    return sm.events


def still_logits(
    engine, rng: np.random.Generator, n_per_view: int, size_hw: tuple[int, int] = (128, 128)
) -> tuple[np.ndarray, np.ndarray]:
    """Logits and labels of simulator stills through the stream's ultrasound preprocessing."""
    from rtecho.pipeline.ultrasound import simulator_logits

    return simulator_logits(engine, rng, n_per_view, size_hw)


def session_events(engine, frames: list[np.ndarray], times: np.ndarray, calibration=None, **smooth) -> list:
    """The view-change events of the stream processor with the ultrasound stages on a session
    (``smooth``: the smooth stage's options)."""
    from rtecho.pipeline import StreamProcessor, build_pipeline

    pipe = build_pipeline(engine, ultrasound=True, calibrate={"calibration": calibration}, smooth=smooth)
    with StreamProcessor(engine, pipeline=pipe) as proc:
        preds = [proc.process(im, timestamp=float(t)) for im, t in zip(frames, times, strict=True)]
    return [p.view_change for p in preds if p.view_change is not None]
