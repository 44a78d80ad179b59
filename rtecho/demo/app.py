"""The Gradio app: Live (webcam), File (video or DICOM upload) and Model tabs over one engine cache.

Built on rtecho's public API only (runtime, pipeline, io, viz). Binds 127.0.0.1 unless told
otherwise; uploads are capped by ``max_upload_mb``. Example::

    from rtecho.demo.app import build_app, launch
    launch(build_app(), host="127.0.0.1", port=7860)
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from rtecho._lazy import require
from rtecho.demo.engines import (
    DISCLAIMER,
    UNTRAINED_NOTE,
    EngineCache,
    backend_choices,
    card_for,
    card_markdown,
    model_choices,
)
from rtecho.demo.files import ACCEPTED_EXTENSIONS, process_file
from rtecho.demo.live import LiveStats, live_step
from rtecho.demo.options import DEFAULT_HOST, DEFAULT_MAX_UPLOAD_MB, DEFAULT_PORT, add_arguments
from rtecho.errors import RtechoError
from rtecho.io import open_source
from rtecho.viz import default_overlay
from rtecho.viz.cardiac import with_cardiac

log = logging.getLogger(__name__)

#: Seconds between webcam frames sent by the browser (20 fps). The browser skips a tick while the
#: previous frame is still in flight, so frames never queue up (the live drop policy).
STREAM_EVERY_S = 0.05
_KEEP_RUNS = 16


class _Handlers:
    """The event handlers, bound to one engine cache and one folder for file outputs."""

    def __init__(self, gr: Any, cache: EngineCache, work_dir: Path) -> None:
        self.gr = gr
        self.cache = cache
        self.work_dir = work_dir
        self.overlay = default_overlay()

    def _error(self, exc: RtechoError) -> Exception:
        return self.gr.Error(str(exc), print_exception=False)

    # -- Live ----------------------------------------------------------------------------------
    def live(
        self, image: np.ndarray | None, model: str, backend: str, stats: LiveStats | None
    ) -> tuple[np.ndarray | None, str, LiveStats]:
        stats = stats if isinstance(stats, LiveStats) else LiveStats()
        try:
            proc = self.cache.processor(model, backend)
            recorder = self.cache.recorder(model, backend)
        except RtechoError as exc:
            raise self._error(exc) from None
        if (
            stats.overlay is None
        ):  # per session: the LV trace of one stream (drawn only where the LV was found)
            stats.overlay = with_cardiac(default_overlay())
        annotated, pred = live_step(image, proc, stats.overlay, stats, recorder)
        card = proc.engine.card
        name = card.name if card.trained else f"{card.name} (UNTRAINED)"
        return annotated, stats.readout(pred, name, proc.engine.backend), stats

    # -- File ----------------------------------------------------------------------------------
    def file(self, upload: str | None, model: str, backend: str) -> tuple[str, str, str, str, str]:
        run_dir = self.work_dir / uuid.uuid4().hex[:12]
        self._prune()
        try:
            engine = self.cache.engine(model, backend)
            result = process_file(upload, engine, run_dir)
        except RtechoError as exc:
            shutil.rmtree(run_dir, ignore_errors=True)
            raise self._error(exc) from None
        for w in result.warnings:
            self.gr.Warning(w)
        s = result.summary
        note = "" if engine.card.trained else "UNTRAINED model (random weights): the labels mean nothing.\n"
        text = f"{note}{s.model} on {s.backend} - {Path(upload or '').name}\n{s.table()}"
        return str(result.video), str(result.timeline), str(result.histogram), str(result.jsonl), text

    def _prune(self) -> None:
        runs = sorted((p for p in self.work_dir.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
        for old in runs[:-_KEEP_RUNS]:
            shutil.rmtree(old, ignore_errors=True)

    # -- Model ---------------------------------------------------------------------------------
    def banner(self, model: str) -> str:
        try:
            trained = card_for(model).trained
        except RtechoError as exc:
            return f"**Cannot load model {model!r}:** {exc}"
        return "" if trained else f"> {UNTRAINED_NOTE}"

    def card(self, model: str, backend: str) -> str:
        try:
            card = card_for(model)
            key = self.cache.key(model, backend)
        except RtechoError as exc:
            return f"**Cannot load the model card:** {exc}"
        recorder = self.cache.recorder(model, backend) if key in self.cache.loaded() else None
        return card_markdown(card, backend=key[1], live_latency=recorder)

    def measure(self, model: str, backend: str, n: int = 200) -> str:
        """Run ``n`` synthetic frames through the cached processor, then show the card with latency."""
        try:
            proc = self.cache.processor(model, backend)
            recorder = self.cache.recorder(model, backend)
            h, w = proc.engine.card.input_size_hw
            with open_source(f"synthetic:n={n},size={2 * h}x{2 * w}") as src:
                for frame in src:
                    recorder.add(proc.process(frame.image))
        except RtechoError as exc:
            raise self._error(exc) from None
        return self.card(model, backend)


def build_app(
    cache: EngineCache | None = None,
    model: str | None = None,
    backend: str | None = None,
    live_time_limit: float = 600.0,
    stream_every: float = STREAM_EVERY_S,
    work_dir: str | Path | None = None,
) -> Any:
    """Build the demo as a ``gr.Blocks`` (not launched); ``model``/``backend`` preselect the dropdowns.

    >>> app = build_app()  # doctest: +SKIP
    >>> launch(app, port=7860)  # doctest: +SKIP
    """
    models = model_choices(extra=model)
    if not models:
        raise RtechoError("no models found: put an ONNX model and its card in engines/")
    backends = backend_choices()
    if not backends:
        raise RtechoError('no inference backend is installed; install one with: pip install "rtecho[onnx]"')
    model0 = model or models[0][1]
    card_for(model0)  # an unknown model fails here, with the names that are known
    backend0 = backend or backends[0]
    if backend0 not in backends:
        raise RtechoError(f"backend {backend0!r} is not installed; installed: {', '.join(backends)}")
    gr = require("gradio", "demo", "the live demo")
    cache = cache if cache is not None else EngineCache()
    work = Path(work_dir) if work_dir is not None else Path(tempfile.mkdtemp(prefix="rtecho-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    h = _Handlers(gr, cache, work)

    with gr.Blocks(title="rtecho demo", analytics_enabled=False, delete_cache=(600, 1800)) as app:
        gr.Markdown(f"# rtecho: echocardiography view recognition\n{DISCLAIMER}")
        with gr.Row():
            model_dd = gr.Dropdown(models, value=model0, label="Model", elem_id="model", scale=2)
            backend_dd = gr.Dropdown(backends, value=backend0, label="Backend", elem_id="backend", scale=1)
        banner = gr.Markdown(h.banner(model0), elem_id="model-banner")
        with gr.Tabs():
            with gr.Tab("Live", id="live"):
                gr.Markdown(
                    "Start the webcam (or a capture card showing the scanner screen): every frame is "
                    "classified and comes back annotated. The readout shows this frame's latency and "
                    "the round-trip rate of frames through the browser. On apical views (A4C, A2C) the LV "
                    "is segmented too: its contour, an area trace with ED/ES marks and the running EF."
                )
                with gr.Row():
                    cam = gr.Image(
                        sources=["webcam"],
                        streaming=True,
                        type="numpy",
                        label="Webcam",
                        elem_id="live-input",
                        webcam_options=gr.WebcamOptions(mirror=False),
                    )
                    live_out = gr.Image(  # no label or buttons: they would cover the overlay's corners
                        label="Annotated",
                        show_label=False,
                        buttons=[],
                        format="jpeg",  # encodes ~7x faster than the default webp
                        elem_id="live-output",
                    )
                readout = gr.Textbox(label="Live readout", interactive=False, elem_id="live-readout")
                stats = gr.State(None)
                cam.stream(
                    h.live,
                    inputs=[cam, model_dd, backend_dd, stats],
                    outputs=[live_out, readout, stats],
                    stream_every=stream_every,
                    time_limit=live_time_limit,
                    concurrency_limit=4,
                    show_progress="hidden",
                    api_name="live",
                )
            with gr.Tab("File", id="file"):
                gr.Markdown(
                    "Upload a video (MP4, AVI, GIF, ...) or a DICOM cine loop (.dcm). Every frame is "
                    "classified (none dropped); you get the annotated video, a timeline of the predicted "
                    "view and confidence, a latency histogram and the per-frame JSONL log. Apical frames get "
                    "the LV contour and EF in the video, and LV area, beats and EF in the JSONL log."
                )
                with gr.Row():
                    upload = gr.File(
                        label="Video or DICOM",
                        file_types=list(ACCEPTED_EXTENSIONS),
                        type="filepath",
                        elem_id="file-input",
                    )
                    run_btn = gr.Button("Classify every frame", variant="primary", elem_id="file-run")
                with gr.Row():
                    video = gr.Video(label="Annotated video (H.264)", elem_id="file-video")
                    timeline = gr.Image(label="Timeline", type="filepath", elem_id="file-timeline")
                with gr.Row():
                    hist = gr.Image(label="Latency histogram", type="filepath", elem_id="file-latency")
                    with gr.Column():
                        jsonl = gr.File(label="JSONL log", elem_id="file-jsonl")
                        summary = gr.Textbox(
                            label="Summary", lines=10, interactive=False, elem_id="file-summary"
                        )
                run_btn.click(
                    h.file,
                    inputs=[upload, model_dd, backend_dd],
                    outputs=[video, timeline, hist, jsonl, summary],
                    concurrency_limit=1,
                    api_name="process_file",
                )
            with gr.Tab("Model", id="model"):
                card_md = gr.Markdown(elem_id="model-card")
                measure_btn = gr.Button("Measure latency (200 synthetic frames)", elem_id="model-measure")
                measure_btn.click(
                    h.measure, [model_dd, backend_dd], card_md, concurrency_limit=1, api_name="measure"
                )
        for trigger in (model_dd.change, backend_dd.change, app.load):
            trigger(h.card, [model_dd, backend_dd], card_md, api_name=False, show_progress="hidden")
        model_dd.change(h.banner, model_dd, banner, api_name=False, show_progress="hidden")
    return app


def launch(
    app: Any,
    host: str = DEFAULT_HOST,
    port: int | None = DEFAULT_PORT,
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB,
    prevent_thread_lock: bool = False,
    quiet: bool = False,
) -> str:
    """Serve ``app`` on ``host:port`` (never a public share link); returns the local URL."""
    _, url, _ = app.launch(
        server_name=host,
        server_port=port,
        share=False,
        max_file_size=int(max_upload_mb * 1_000_000),
        prevent_thread_lock=prevent_thread_lock,
        quiet=quiet,
        footer_links=["api", "settings"],
    )
    return url


def main(argv: list[str] | None = None) -> int:
    """``python demos/gradio_app.py [--host H] [--port P] [--max-upload-mb MB]``: serve until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="rtecho demo", description="rtecho's live Gradio demo")
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))


def run_from_args(args: argparse.Namespace) -> int:
    """Build and serve the app from parsed :func:`~rtecho.demo.options.add_arguments` options."""
    cache = EngineCache()
    app = build_app(
        cache,
        model=args.model,
        backend=args.backend,
        live_time_limit=args.live_time_limit,
        stream_every=1.0 / args.webcam_fps,
    )
    try:
        launch(app, host=args.host, port=args.port, max_upload_mb=args.max_upload_mb)
    finally:
        cache.close()
    return 0
