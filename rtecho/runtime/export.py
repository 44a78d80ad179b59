"""torch -> ONNX export with a model card and a parity check (training side: needs torch, onnx).

    from rtecho.models import create_model
    from rtecho.runtime.export import export_onnx
    card = export_onnx(create_model("darts1"), "engines/darts1.onnx", training_data="...")

The ONNX graph has one input ``input`` (N, C, H, W) float32 with a dynamic batch and one output
``logits`` (N, K); opset 17 is asked for and the dynamo exporter may write 18 (the card records what the file declares). Parity: the exported graph is run with ONNX Runtime on a batch and
compared with torch eager: max |logit difference| and arg-max agreement go into the card.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rtecho._lazy import require
from rtecho._version import __version__
from rtecho.errors import EngineError
from rtecho.runtime.model_file import sha256_file
from rtecho.types import ModelCard, card_path_for

log = logging.getLogger(__name__)

OPSET = 17


def _export_graph(model: Any, x: Any, path: Path) -> str:
    """Export with the dynamo exporter, falling back to the TorchScript one; returns which ran."""
    torch = require("torch", "train", "export")
    common = {"input_names": ["input"], "output_names": ["logits"], "opset_version": OPSET}
    batch = torch.export.Dim("batch", min=1, max=256)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(
                model,
                (x,),
                str(path),
                dynamo=True,
                external_data=False,
                dynamic_shapes=({0: batch},),
                **common,
            )
            return "dynamo"
        except Exception as exc:  # noqa: BLE001 - the dynamo exporter raises many unrelated types; we fall back
            log.info(
                "dynamo export failed (%s); using the TorchScript exporter", str(exc).splitlines()[0][:200]
            )
            torch.onnx.export(
                model, (x,), str(path), dynamo=False, dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                **common,
            )  # fmt: skip
            return "torchscript"


def _simplify(path: Path) -> bool:
    try:
        import onnxslim
    except ImportError:
        return False
    import onnx

    model = onnx.load(str(path))
    slim = onnxslim.slim(model)
    if slim is None:
        return False
    onnx.save(slim, str(path))
    return True


def parity(model: Any, onnx_path: Path, batch: np.ndarray) -> dict[str, float]:
    """Compare torch eager and ONNX Runtime logits on ``batch`` (float32 NCHW)."""
    torch = require("torch", "train", "the parity check")
    ort = require("onnxruntime", "onnx", "the parity check")
    with torch.no_grad():
        ref = model(torch.from_numpy(batch)).numpy()
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    out = sess.run(None, {sess.get_inputs()[0].name: batch})[0]
    return {
        "max_abs_logit_diff": float(np.abs(out - ref).max()),
        "argmax_agreement": float((out.argmax(1) == ref.argmax(1)).mean()),
        "n": int(batch.shape[0]),
    }


def export_onnx(
    model: Any,
    out: str | Path,
    *,
    name: str | None = None,
    parity_batch: np.ndarray | None = None,
    training_data: str = "",
    metrics: Mapping[str, Any] | None = None,
    simplify: bool = True,
    description: str = "",
    extra: Mapping[str, Any] | None = None,
    save_torch: bool = False,
) -> ModelCard:
    """Export a registry model (it must carry ``model.config``) to ONNX and write its card beside it.

    ``save_torch`` also writes the state dict as ``NAME.pt`` for the torch reference backend.
    """
    torch = require("torch", "train", "export")
    require("onnx", "train", "export")
    cfg = getattr(model, "config", None)
    if cfg is None:
        raise EngineError("export needs a model built by rtecho.models.create_model (it carries .config)")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    c, (h, w) = cfg.channels, cfg.input_size_hw
    x = torch.randn(2, c, h, w)
    exporter = _export_graph(model, x, out)
    slimmed = simplify and _simplify(out)
    import onnx

    opset = next((o.version for o in onnx.load(str(out)).opset_import if o.domain in ("", "ai.onnx")), OPSET)
    if parity_batch is None:
        parity_batch = np.random.default_rng(0).normal(size=(16, c, h, w)).astype(np.float32)
    par = parity(model, out, parity_batch.astype(np.float32))
    from rtecho.models.stats import count_flops, count_params

    card = ModelCard(
        name=name or cfg.name,
        architecture=cfg.architecture,
        labels=tuple(cfg.labels),
        input_size_hw=(h, w),
        channels=c,
        mean=tuple(cfg.mean),
        std=tuple(cfg.std),
        genotype=dict(cfg.genotype) if cfg.genotype else None,
        params=count_params(model, include_aux=False),
        flops=count_flops(model, (h, w), c),
        onnx_sha256=sha256_file(out),
        rtecho_version=__version__,
        training_data=training_data,
        metrics={**dict(metrics or {}), "parity": par},
        trained=True,
        description=description,
        task=getattr(cfg, "task", "classification"),
        equalize=bool(getattr(cfg, "equalize", False)),
        extra={
            "model_name": cfg.name,
            "exporter": exporter,
            "opset": int(opset),  # what the file declares (the exporter may raise 17 to 18)
            "simplified": bool(slimmed),
            "torch": torch.__version__,
            **dict(extra or {}),
        },
    )
    card.save(card_path_for(out))
    if save_torch:  # weights for the torch reference backend (a plain state dict)
        torch.save(model.state_dict(), out.with_suffix(".pt"))
    return card
