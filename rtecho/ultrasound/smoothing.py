"""Temporal smoothing of view probabilities with hysteresis, driven by frame timestamps.

Exponential smoothing with a time constant ``tau_s`` (seconds, so it behaves the same at any fps):

    s_t = s_{t-1} + a (p_t - s_{t-1}),   a = 1 - exp(-dt / tau_s)

Hysteresis: the reported view changes only after another view has been the smoothed arg-max for
``min_stable_s`` seconds (with smoothed probability >= ``min_prob``, leading the reported view by
``margin``); time spent on held frames does not count. Each change is a
:class:`~rtecho.types.ViewChange` event. The first view is reported the same way (``from_label``
None). Frames that are not classified (other modes, rejected) are skipped with :meth:`hold`.

>>> import numpy as np
>>> sm = TemporalSmoother(("A2C", "A4C"), tau_s=0.1, min_stable_s=0.2)
>>> events = [sm.update(np.array([0.1, 0.9]), i / 30, i).change for i in range(30)]
>>> [e.to_label for e in events if e is not None]
['A4C']
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from rtecho.types import ViewChange


@dataclass(frozen=True, eq=False)
class Smoothed:
    """The smoother's state after a frame: probabilities, reported view, and the change event if any."""

    probabilities: np.ndarray | None
    label: str | None
    change: ViewChange | None = None


class TemporalSmoother:
    """Exponential smoothing (``tau_s``) of probability vectors plus ``min_stable_s`` hysteresis."""

    #: how many view changes :attr:`events` keeps (the newest)
    MAX_EVENTS = 1024

    def __init__(
        self,
        labels: tuple[str, ...],
        tau_s: float = 0.08,
        min_stable_s: float = 0.15,
        margin: float = 0.0,
        min_prob: float = 0.5,
        grace_s: float = 0.1,
    ) -> None:
        if tau_s < 0 or min_stable_s < 0:
            raise ValueError("tau_s and min_stable_s must be >= 0")
        self.labels = tuple(labels)
        self.tau_s, self.min_stable_s, self.margin, self.min_prob = tau_s, min_stable_s, margin, min_prob
        self.grace_s = grace_s
        self.reset()

    def reset(self) -> None:
        """Forget the state (a new stream or clip)."""
        self.state: np.ndarray | None = None
        self.label: str | None = None
        self._t: float | None = None
        self._pending: int | None = None
        self._since: float = 0.0
        self._last_pending: int | None = None
        self._last_seen: float = -math.inf
        self._events: deque[ViewChange] = deque(maxlen=self.MAX_EVENTS)

    @property
    def events(self) -> list[ViewChange]:
        """The view changes of this stream, oldest first: the last :attr:`MAX_EVENTS` (a live stream is
        endless, so the history is bounded; each change also reaches the caller in its Prediction)."""
        return list(self._events)

    def update(self, probabilities: np.ndarray, timestamp: float, frame_index: int = 0) -> Smoothed:
        """Add the probabilities of the frame at ``timestamp`` (seconds); returns the new state."""
        p = np.asarray(probabilities, np.float64)
        if p.shape != (len(self.labels),):
            raise ValueError(f"probabilities shape {p.shape} != ({len(self.labels)},)")
        if self.state is None or self._t is None:
            self.state = p.copy()
        else:
            dt = max(0.0, float(timestamp) - self._t)
            a = 1.0 if self.tau_s == 0 else 1.0 - math.exp(-dt / self.tau_s)
            self.state = self.state + a * (p - self.state)
        self._t = float(timestamp)
        top = int(np.argmax(self.state))
        current = self.labels.index(self.label) if self.label is not None else None
        change = None
        leads = self.state[top] >= self.min_prob and (
            current is None or self.state[top] >= self.state[current] + self.margin
        )
        now = float(timestamp)
        if top != current and leads:
            # a candidate's clock survives interruptions shorter than ``grace_s`` (a burst of another view)
            if self._pending != top and not (
                top == self._last_pending and now - self._last_seen <= self.grace_s
            ):
                self._since = now
            self._pending = self._last_pending = top
            self._last_seen = now
            if now - self._since >= self.min_stable_s:
                change = ViewChange(self.label, self.labels[top], int(frame_index), now)
                self.label, self._pending, self._last_pending = self.labels[top], None, None
                self._events.append(change)
        else:
            self._pending = None
        return Smoothed(self.state.astype(np.float32), self.label, change)

    def hold(self, timestamp: float | None = None) -> Smoothed:
        """The current state, for a frame that is not classified (no update, no event).

        With ``timestamp``, the clock moves on without decay: the next classified frame gets the
        weight of one frame interval, not of the whole held stretch.
        """
        if timestamp is not None and self._t is not None:
            held = max(0.0, float(timestamp) - self._t)
            self._since += held  # the stability clock pauses while frames are held
            self._last_seen += held
            self._t += held
        probs = None if self.state is None else self.state.astype(np.float32)
        return Smoothed(probs, self.label)
