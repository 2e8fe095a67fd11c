"""``factdesk bench``: a path of the wrong kind or a malformed corpus gets a one-line error
and exit status 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.cli import EXIT_INPUT, main


@pytest.mark.parametrize(
    ("corpus", "make", "says"),
    [
        ("hedges", "dir", "is a directory"),
        ("frank", "dir", "is a directory"),
        ("polnear", "file", "is a file"),
    ],
)
def test_a_path_of_the_wrong_kind_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], corpus: str, make: str, says: str
) -> None:
    path = tmp_path / "corpus.jsonl"
    if make == "dir":
        path.mkdir()
    else:
        path.write_text("{}\n", encoding="utf-8")
    assert main(["bench", corpus, str(path)]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert err.startswith(f"factdesk: bench {corpus} reads ") and says in err
    assert "Traceback" not in err


def test_a_malformed_corpus_is_refused_with_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "frank.jsonl"
    path.write_text('{"summary": "x"}\n', encoding="utf-8")
    assert main(["bench", "frank", str(path)]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert err.strip() == f"factdesk: bench frank: {path}:1: needs article, summary and label"
