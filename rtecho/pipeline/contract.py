"""The stage contract: one per-frame record that stages read and extend, and the base of every stage.

A stage (in the manner of a Holoscan operator) declares what it takes (``inputs``) and gives
(``outputs``): names of :class:`FrameRecord` fields. It has a ``config`` section (a small frozen
dataclass of its options, named after the stage), a timing group (one of the per-frame stages of
:data:`~rtecho.types.STAGES` that its time counts in), an optional condition :meth:`Stage.when`
(skip the work for this frame), and optional per-stream hooks :meth:`Stage.reset` (a new stream)
and :meth:`Stage.idle` (deferred work between frames). A stage may also start early
(:attr:`Stage.start_inputs`, :meth:`Stage.start`): its work then runs on a worker thread beside the
stages in between (the LV segmenter beside the classifier: two engines of one frame on two cores). The runner
(:class:`~rtecho.pipeline.stages.FramePipeline`) checks the wiring once, when it is built, and
times every stage for free.

A stage that gives a field :class:`FrameRecord` does not have (a segmenter's ``mask``, a beat
tracker's ``beat``) just names it in ``outputs``: the runner adds the field, None until the stage
sets it, to every record of that pipeline, and later stages may read it. Adding a stage is one
module (the stage and its config) plus one registration line
(:func:`~rtecho.pipeline.compose.register_stage`; see ``docs/stages.md``)::

    from dataclasses import dataclass
    from rtecho.pipeline.contract import Stage

    @dataclass(frozen=True)
    class BrightnessConfig:
        scale: float = 1.0

    class Brightness(Stage):
        name, inputs, outputs, timing = "brightness", ("image",), ("brightness",), "postprocess"

        def __init__(self, config: BrightnessConfig = BrightnessConfig()) -> None:
            self.config = config

        def __call__(self, rec) -> None:
            rec.brightness = float(rec.image.mean()) * self.config.scale
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from rtecho.types import Frame, Prediction, ViewChange

if TYPE_CHECKING:
    from rtecho.runtime.base import Engine

C = TypeVar("C")

#: The timing groups a stage may count in (the rest of :data:`~rtecho.types.STAGES` the runner
#: measures itself: ``decode`` from the source, ``wait``, ``transport`` from a remote engine, ``end_to_end``).
TIMING_GROUPS: tuple[str, ...] = ("preprocess", "infer", "postprocess", "overlay")


@dataclass(eq=False)
class FrameRecord:
    """Everything known about one frame as it goes through the stages; each stage reads and extends it.

    ``frame``/``image`` are set by the runner (the image was checked once, when the Frame was made);
    ``prediction`` is built by the runner from the fields above it, once: before the first stage that
    reads it (the overlay), else when the pipeline returns it; ``stage_ms`` holds each stage's time,
    ``timings_ms`` the Prediction's timings (the stages' times added up by timing group), in ms.
    """

    frame: Frame
    image: np.ndarray
    live: bool = False  # a live stream (paced or a live source): a stage may trade a frame's quality for time
    screen: Any = None  # rtecho.ultrasound._screen.ScreenFrame: the frame and its cached downsamples
    sector: Any = None  # rtecho.ultrasound.Sector: the imaging sector
    mode: str = "bmode"  # scan mode (rtecho.views.MODES)
    x: np.ndarray | None = None  # the classifier's input (1, C, H, W); None: do not classify
    logits: np.ndarray | None = None  # the classifier's output (K,)
    probabilities: np.ndarray | None = None
    index: int | None = None  # arg-max of probabilities
    accepted: bool = False  # a classified frame that was not rejected as unknown
    smoothed: bool = False  # the smoothed_* fields come from a smoother (else the raw result is reported)
    smoothed_label: str | None = None
    smoothed_probabilities: np.ndarray | None = None
    view_change: ViewChange | None = None
    transport_ms: float | None = None  # a remote engine's wire time (part of its infer time)
    prediction: Prediction | None = None
    annotated: np.ndarray | None = None  # the overlay's drawing
    stage_ms: dict[str, float] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)


#: Fields the runner owns: no stage gives them.
RUNNER_FIELDS: frozenset[str] = frozenset({"frame", "image", "live", "prediction", "stage_ms", "timings_ms"})
#: The fields the Prediction is made from: no stage after the prediction is built may give them.
PREDICTION_FIELDS: frozenset[str] = frozenset(
    {
        "mode",
        "probabilities",
        "index",
        "accepted",
        "smoothed",
        "smoothed_label",
        "smoothed_probabilities",
        "view_change",
        "transport_ms",
        "lv",  # the cardiac stages' (rtecho.pipeline.cardiac)
        "lv_mask",
        "beats",
    }
)
RECORD_FIELDS: frozenset[str] = frozenset(f.name for f in fields(FrameRecord))


class Stage:
    """Base of the pipeline's stages: declare ``name``, ``inputs``, ``outputs``, ``timing``; implement
    ``__call__(record)``, which reads the inputs from the record and sets the outputs on it.

    ``config`` is the stage's config section (a frozen dataclass); ``engines`` the inference engines it
    runs (opened and closed with the pipeline). :meth:`when` False skips the stage for that frame (its
    outputs keep their defaults). A stage raises :class:`~rtecho.errors.FrameError` (bad frame) or
    :class:`~rtecho.errors.EngineError` (inference failed) to give that frame an error result.
    """

    name: str = ""
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    timing: str = "postprocess"
    config: Any = None
    engines: tuple[Engine, ...] = ()

    #: Early start (optional): the fields :meth:`start` reads. The runner calls ``start`` as soon as the
    #: stages before this one have given them all, when other stages run in between. None: no early start.
    start_inputs: tuple[str, ...] | None = None

    def when(self, rec: FrameRecord) -> bool:
        """Whether to run for this frame (default: always)."""
        return True

    def start(self, rec: FrameRecord) -> None:
        """With ``start_inputs``: begin this frame's work early (on a worker thread of the stage's own),
        beside the stages in between, from the ``start_inputs`` only; :meth:`__call__` then collects it.
        The work must not depend on what the stages in between give (a guess is fine when
        :meth:`__call__` checks it and redoes the work otherwise), and is discarded when :meth:`when`
        says no. Its time (the hand-off) counts in this stage's time (default: nothing)."""

    def __call__(self, rec: FrameRecord) -> None:
        raise NotImplementedError

    def reset(self) -> None:
        """A new stream: forget the per-stream state (default: none)."""

    def idle(self, stop: Callable[[], bool] | None = None) -> bool:
        """Deferred work between frames, until ``stop()`` says a frame is waiting; True when there was some."""
        return False

    def preview(self) -> FrameRecord | None:
        """After :meth:`idle` changed what this stage will give the next frame (a new sector): the last
        frame's record as the next frame will see it, once, so that the stages after this one can
        :meth:`warm` up on it in the same idle time; else None (default)."""
        return None

    def warm(self, rec: FrameRecord) -> None:
        """Precompute, in idle time, what a frame like ``rec`` (a :meth:`preview`) will need from this
        stage (masks, lookup tables), without touching the per-stream state (default: nothing)."""

    def __repr__(self) -> str:
        return f"{self.name}({', '.join(self.inputs)} -> {', '.join(self.outputs)})"


@dataclass(frozen=True)
class NoConfig:
    """The config section of a stage without options."""


def config_for(cls: type[C], section: C | Mapping[str, Any] | None, stage: str = "") -> C:
    """A stage's config from its section as given: None (the defaults), a dict of options, or the
    config dataclass itself. Unknown options raise ValueError naming the known ones.

    >>> @dataclass(frozen=True)
    ... class SmoothConfig:
    ...     tau_s: float = 0.08
    >>> config_for(SmoothConfig, {"tau_s": 0.2}).tau_s, config_for(SmoothConfig, None).tau_s
    (0.2, 0.08)
    """
    if section is None:
        return cls()
    if isinstance(section, cls):
        return section
    if not isinstance(section, Mapping):
        raise ValueError(
            f"config section {stage!r}: expected a dict or {cls.__name__}, got {type(section).__name__}"
        )
    known = [f.name for f in fields(cls)] if is_dataclass(cls) else []
    unknown = sorted(set(section) - set(known))
    if unknown:
        raise ValueError(f"config section {stage!r}: unknown option(s) {unknown}; known: {known}")
    return cls(**section)
