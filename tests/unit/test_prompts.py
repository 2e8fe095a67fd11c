from __future__ import annotations

from pathlib import Path

from service.llm_output import LLMAnalysis
from service.prompts import load_prompt, numbered_sentences, render_analyze
from service.settings import Settings
from service.text import prepare


def test_article_text_is_substituted_verbatim(settings: Settings) -> None:
    prompt = load_prompt(settings.prompts_dir, "analyze", "v1")
    doc = prepare("Costs rose to $title and ${sentences} today. Nobody knows why.")
    messages = render_analyze(prompt, doc, title="T", summary_sentences=2)
    user = messages[1]["content"]
    assert "S1: Costs rose to $title and ${sentences} today." in user
    assert "S2: Nobody knows why." in user
    assert "at most 2 sentences" in user
    assert messages[0]["role"] == "system"


def test_numbered_sentences_separate_paragraphs() -> None:
    doc = prepare("One. Two.\n\nThree.")
    assert numbered_sentences(doc) == "S1: One.\nS2: Two.\n\nS3: Three."


def test_hash_changes_with_template_and_schema(tmp_path: Path, settings: Settings) -> None:
    base = load_prompt(settings.prompts_dir, "analyze", "v1")
    schema = LLMAnalysis.model_json_schema()
    for part in ("system", "user"):
        (tmp_path / f"analyze.v9.{part}.md").write_text(getattr(base, part), encoding="utf-8")
    same = load_prompt(tmp_path, "analyze", "v9")
    assert same.sha256(schema) == base.sha256(schema)
    (tmp_path / "analyze.v9.user.md").write_text(base.user + " ", encoding="utf-8")
    assert load_prompt(tmp_path, "analyze", "v9").sha256(schema) != base.sha256(schema)
    assert base.sha256({"type": "object"}) != base.sha256(schema)
    assert base.label == "analyze.v1"
