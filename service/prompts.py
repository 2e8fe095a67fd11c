"""Versioned prompts: load ``prompts/NAME.VERSION.{system,user}.md`` and render them.

The prompt's identity (``version`` and ``sha256``) covers every byte the model is shown
apart from the article: both templates and the response schema.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

from .text import Document


@dataclass(frozen=True)
class PromptTemplate:
    """A loaded prompt: its templates, version label and content hash."""

    name: str
    version: str
    system: str
    user: str
    #: task templates appended after the shared ``user`` block (``NAME.VERSION.TASK.md``),
    #: so every call of one analysis shares the article as its prompt prefix
    tasks: tuple[tuple[str, str], ...] = ()

    def task(self, name: str) -> str:
        """The task template ``name``; raises ``KeyError`` if this prompt has none."""
        return dict(self.tasks)[name]

    @property
    def label(self) -> str:
        """``NAME.VERSION``, as reported in ``meta.prompt_version``."""
        return f"{self.name}.{self.version}"

    def sha256(self, *schemas: dict[str, Any]) -> str:
        """Hash of every template and the response schema(s)."""
        h = hashlib.sha256()
        parts = [self.system, self.user]
        for name, text in self.tasks:
            parts += [name, text]
        parts += [json.dumps(schema, sort_keys=True) for schema in schemas]
        for part in parts:
            h.update(part.encode("utf-8"))
            h.update(b"\0")
        return h.hexdigest()


def load_prompt(prompts_dir: Path, name: str, version: str) -> PromptTemplate:
    """Load a prompt; raises ``FileNotFoundError`` naming the missing file."""
    system = prompts_dir / f"{name}.{version}.system.md"
    user = prompts_dir / f"{name}.{version}.user.md"
    for path in (system, user):
        if not path.is_file():
            raise FileNotFoundError(f"prompt file {path} not found")
    tasks = tuple(
        (path.name[len(f"{name}.{version}.") : -len(".md")], path.read_text(encoding="utf-8"))
        for path in sorted(prompts_dir.glob(f"{name}.{version}.*.md"))
        if path not in (system, user)
    )
    return PromptTemplate(
        name,
        version,
        system.read_text(encoding="utf-8"),
        user.read_text(encoding="utf-8"),
        tasks,
    )


def numbered_sentences(doc: Document, hidden: frozenset[str] = frozenset()) -> str:
    """The article as the model sees it: one ``S<n>: text`` line per sentence, a blank
    line between paragraphs; ``hidden`` sentences (page furniture) are left out."""
    blocks = []
    for para in doc.paragraphs:
        lines = []
        for sid in para.sentence_ids:
            if sid in hidden:
                continue
            sentence = doc.sentence(sid)
            assert sentence is not None
            lines.append(f"{sid}: {' '.join(sentence.text.split())}")
        if lines:
            blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def render_analyze(
    prompt: PromptTemplate, doc: Document, *, title: str | None, summary_sentences: int
) -> list[dict[str, str]]:
    """Chat messages for one analysis. Article text is substituted, never interpreted."""
    user = Template(prompt.user).safe_substitute(
        summary_sentences=str(summary_sentences),
        title=" ".join((title or "(none)").split()),
        sentences=numbered_sentences(doc),
    )
    return [
        {"role": "system", "content": prompt.system.strip()},
        {"role": "user", "content": user.strip()},
    ]


def render_task(
    prompt: PromptTemplate,
    doc: Document,
    task: str,
    *,
    title: str | None,
    values: dict[str, str],
    hidden: frozenset[str] = frozenset(),
) -> list[dict[str, str]]:
    """Chat messages for one focused call: the shared system prompt and article block,
    then the task. Calls of one analysis differ only after the article, so a server with
    a prompt-prefix cache reads the article once. Article text is never interpreted."""
    shared = Template(prompt.user).safe_substitute(
        title=" ".join((title or "(none)").split()), sentences=numbered_sentences(doc, hidden)
    )
    instructions = Template(prompt.task(task)).safe_substitute(values)
    return [
        {"role": "system", "content": prompt.system.strip()},
        {"role": "user", "content": shared.strip() + "\n\n" + instructions.strip()},
    ]
