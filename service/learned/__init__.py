"""Learned components: trained weights shipped as versioned, hashed files.

Each component (attribution tagger, consistency checker, ...) lives in one module of
this package, loads its weights once per process, and registers what it loaded with
:func:`register` so every response's ``meta.components`` names the exact version and
SHA-256 of the weights that produced it. Training lives beside it, reached through
``factdesk train NAME``; see :data:`TRAINERS`.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

#: Where committed weights live (inside the package, so an install carries them).
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"

#: ``factdesk train NAME`` -> the module whose ``add_arguments(parser)`` and
#: ``train(args) -> int`` implement it.
TRAINERS: dict[str, str] = {
    "faithfulness": "service.learned.consistency_train",
    "attribution": "service.learned.attribution_train",
    "encoder": "service.learned.encoder_build",
}


@dataclass(frozen=True)
class ComponentInfo:
    """What one learned component loaded: its name, weights version and file hash."""

    name: str
    version: str
    sha256: str


_lock = threading.Lock()
_loaded: dict[str, ComponentInfo] = {}


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def register(info: ComponentInfo) -> None:
    """Record that this process loaded ``info`` (idempotent per name)."""
    with _lock:
        _loaded[info.name] = info


def loaded() -> dict[str, ComponentInfo]:
    """The components this process has loaded so far, by name."""
    with _lock:
        return dict(_loaded)
