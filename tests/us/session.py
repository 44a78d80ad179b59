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
