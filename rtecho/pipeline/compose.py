"""The pipeline composition: every stage registered once, in pipeline order; one function builds a pipeline.

:data:`REGISTRY` lists the stages in the order they run. Each entry (a :class:`StageSpec`) names
the stage (its name is its config section) and a factory ``make(ctx, section)`` that says, from the
options of :func:`build_pipeline` (a :class:`BuildContext`), whether the stage is in this pipeline
and builds it with its config section (None, a dict of options or the stage's config dataclass)::

    preprocess -> classify -> softmax -> overlay                              build_pipeline(engine)
    sector -> mode -> prepare -> classify -> calibrate -> smooth -> overlay   ultrasound=True

Adding a stage = its module plus one :func:`register_stage` line, placed ``after=`` (or ``before=``)
a registered stage; a stage that runs another model takes its engine by name from ``engines``::

    register_stage(StageSpec("segment", make_segment), after="smooth")
    pipe = build_pipeline(engine, ultrasound=True, engines={"segment": seg_engine},
                          segment={"views": ("A4C", "A2C")})
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rtecho.pipeline.contract import Stage
from rtecho.pipeline.stages import Annotate, Classify, FramePipeline, OverlayStage, Preprocess, Softmax
from rtecho.runtime.base import Engine
from rtecho.types import ModelCard


@dataclass(frozen=True)
class BuildContext:
    """The options a pipeline is built from: the main (classifier) ``engine``, ``ultrasound`` (the
    sector, mode and smoothing stages), ``overlay`` (an ``annotate(image, prediction)`` callable),
    and more engines by name for stages that run another model (``engines["segment"]``)."""

    engine: Engine
    ultrasound: bool = False
    overlay: Annotate | None = None
    engines: Mapping[str, Engine] = field(default_factory=dict)
    ef: bool = False  # the cardiac stages (segment -> beats; rtecho.pipeline.cardiac)

    @property
    def card(self) -> ModelCard:
        return self.engine.card


@dataclass(frozen=True)
class StageSpec:
    """A registered stage: ``name`` (its config section; the stage's own name) and ``make(ctx, section)``,
    which returns the stage, or None when the options leave it out."""

    name: str
    make: Callable[[BuildContext, Any], Stage | None]


def _us():  # the ultrasound stages, imported when a pipeline needs them (rtecho.ultrasound: ~0.1 s)
    from rtecho.pipeline import ultrasound

    return ultrasound


def _cardiac():  # the cardiac stages (rtecho.pipeline.cardiac), imported when a pipeline needs them
    from rtecho.pipeline import cardiac

    return cardiac


REGISTRY: list[StageSpec] = [
    StageSpec("sector", lambda ctx, c: _us().SectorStage(c) if ctx.ultrasound else None),
    StageSpec("mode", lambda ctx, c: _us().ModeStage(c) if ctx.ultrasound else None),
    StageSpec("prepare", lambda ctx, c: _us().PrepareStage(ctx.card, c) if ctx.ultrasound else None),
    StageSpec("preprocess", lambda ctx, c: None if ctx.ultrasound else Preprocess(ctx.card, c)),
    StageSpec("classify", lambda ctx, c: Classify(ctx.engine, c)),
    StageSpec("softmax", lambda ctx, c: None if ctx.ultrasound else Softmax(c)),
    StageSpec("calibrate", lambda ctx, c: _us().CalibrateStage(ctx.card, c) if ctx.ultrasound else None),
    StageSpec("smooth", lambda ctx, c: _us().SmoothStage(ctx.card, c) if ctx.ultrasound else None),
    StageSpec("segment", lambda ctx, c: _cardiac().make_segment(ctx, c)),  # ef=True or engines["segment"]
    StageSpec("beats", lambda ctx, c: _cardiac().make_beats(ctx, c)),
    StageSpec("overlay", lambda ctx, c: None if ctx.overlay is None else OverlayStage(ctx.overlay, c)),
]


def register_stage(spec: StageSpec, *, after: str | None = None, before: str | None = None) -> StageSpec:
    """Add a stage to :data:`REGISTRY`, right after ``after`` or right before ``before`` (default: last)."""
    names = [s.name for s in REGISTRY]
    if spec.name in names:
        raise ValueError(f"a stage named {spec.name!r} is registered already")
    if after is not None and before is not None:
        raise ValueError("give after= or before=, not both")
    anchor = after if after is not None else before
    if anchor is not None and anchor not in names:
        raise ValueError(f"no registered stage {anchor!r}; registered: {names}")
    at = len(REGISTRY) if anchor is None else names.index(anchor) + (after is not None)
    REGISTRY.insert(at, spec)
    return spec


def unregister_stage(name: str) -> None:
    """Remove a registered stage (tests, plugins that unload)."""
    REGISTRY[:] = [s for s in REGISTRY if s.name != name]


def build_pipeline(
    engine: Engine,
    *,
    ultrasound: bool = False,
    overlay: Annotate | None = None,
    engines: Mapping[str, Engine] | None = None,
    ef: bool = False,
    **config: Any,
) -> FramePipeline:
    """The pipeline for these options: every registered stage that the options call for, in order.

    ``config``: config sections by stage name (``smooth={"tau_s": 0.1}``, ``calibrate={"calibration": cal}``,
    ``sector=SectorConfig(window=4)``). A section for a stage that is not in this pipeline, an engine no
    stage runs, or an unknown option is an error (ValueError).

    >>> from rtecho.runtime import load_engine
    >>> build_pipeline(load_engine("tiny-untrained")).describe()
    'preprocess(image -> x) -> classify(x -> logits, transport_ms) -> softmax(logits -> probabilities, index, accepted)'
    """
    _check_classifier(engine)
    engines = dict(engines or {})
    if overlay is not None and (
        ef or "segment" in engines
    ):  # the LV contour, area trace and EF under the panels
        from rtecho.viz.cardiac import with_cardiac

        overlay = with_cardiac(overlay)
    ctx = BuildContext(engine, ultrasound, overlay, engines, ef)
    known = [s.name for s in REGISTRY]
    unknown = sorted(set(config) - set(known))
    if unknown:
        raise ValueError(f"unknown config section(s) {unknown}; stages: {known}")
    stages = []
    for spec in REGISTRY:
        stage = spec.make(ctx, config.get(spec.name))
        if stage is None:
            continue
        if stage.name != spec.name:
            raise ValueError(f"stage registered as {spec.name!r} calls itself {stage.name!r}")
        stages.append(stage)
    pipe = FramePipeline.for_engine(engine, stages)
    unused = sorted(set(config) - {s.name for s in stages})
    if unused:
        raise ValueError(f"config section(s) {unused} for stages not in this pipeline: {pipe.describe()}")
    idle = [n for n, e in ctx.engines.items() if not any(e is x for x in pipe.engines)]
    if idle:
        raise ValueError(f"engine(s) {idle} run by no stage of this pipeline: {pipe.describe()}")
    return pipe


def _check_classifier(engine: Engine) -> None:
    """The main engine must classify views: a segmentation card (an LV segmenter) is named as such."""
    card = engine.card
    task = getattr(card, "task", "classification")
    if task == "classification":
        return
    from rtecho.errors import EngineError

    where = getattr(engine, "model_path", None) or card.name
    with contextlib.suppress(ValueError, TypeError):
        where = Path(where).resolve().relative_to(Path.cwd())
    if task == "segmentation":
        raise EngineError(f"{where} is an LV segmenter (task segmentation): pass it as --segmenter with --ef")
    raise EngineError(f"{where} is a {task} model, not a view classifier")
