"""The learned consistency scorer, and how the support verdict combines it with the rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service import learned
from service.cli import main
from service.faithfulness import segments
from service.learned import consistency
from service.retrieval import SentenceIndex, best_matches
from service.support import HARD_CODES, check_rules, check_support
from tests.unit._shared import SEED, shared_file


def _seed() -> tuple[str, list[str]]:
    article = shared_file("seed/baghuz-voa-2019-03.txt").read_text(encoding="utf-8")
    return article, [s.text for s in segments(article)]


def _check(statement: str, article: str, sentences: list[str]) -> tuple[str, set[str]]:
    evidence = " ".join(sentences[i] for i in best_matches(sentences, statement, 3))
    verification = check_support(statement, evidence, article).verification
    return verification.status, {r.code for r in verification.reasons}


# ------------------------------------------------------------------ the weights


def test_committed_weights_are_the_ones_the_code_expects() -> None:
    assert learned.sha256_file(consistency.WEIGHTS_FILE) == consistency.WEIGHTS_SHA256
    assert learned.sha256_file(consistency.TOKENIZER_FILE) == consistency.TOKENIZER_SHA256
    weights = consistency.load_weights(consistency.WEIGHTS_FILE)
    assert weights.features == consistency.FEATURES
    assert 0.0 <= weights.unsupported_below <= weights.supported_at < 1.0


def test_loaded_encoder_is_the_one_the_weights_were_trained_with() -> None:
    consistency.encoder()
    assert learned.sha256_file(consistency.encoder_file()) == consistency.ENCODER_SHA256


def test_a_foreign_encoder_file_is_rebuilt_before_use(tmp_path: Path) -> None:
    from service.learned.encoder_build import ensure

    target = tmp_path / consistency.ENCODER_NAME
    target.write_bytes(b"not the encoder")
    assert ensure(target) == target
    assert learned.sha256_file(target) == consistency.ENCODER_SHA256
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temporary left


def test_encoder_rebuilds_byte_for_byte_from_the_pinned_package(tmp_path: Path) -> None:
    """``factdesk train encoder`` reproduces the committed file from the package's."""
    assert learned.sha256_file(consistency.package_encoder_path()) == (
        consistency.PACKAGE_ENCODER_SHA256
    )
    out = tmp_path / "encoder.onnx"
    assert main(["train", "encoder", "--out", str(out)]) == 0
    assert learned.sha256_file(out) == consistency.ENCODER_SHA256


def test_encoder_build_refuses_a_missing_source(tmp_path: Path) -> None:
    out = tmp_path / "encoder.onnx"
    missing = str(tmp_path / "nope.onnx")
    assert main(["train", "encoder", "--source", missing, "--out", str(out)]) == 2
    assert not out.exists()


def test_weights_trained_on_other_features_are_refused(tmp_path: Path) -> None:
    raw = json.loads(consistency.WEIGHTS_FILE.read_text(encoding="utf-8"))
    raw["features"] = [*raw["features"][:-1], "something-else"]
    path = tmp_path / "w.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ValueError, match="trained on features"):
        consistency.load_weights(path)


def test_warm_up_registers_encoder_and_weights_in_meta_components() -> None:
    consistency.warm_up()
    components = learned.loaded()
    assert components["consistency"].sha256 == consistency.WEIGHTS_SHA256
    assert components["minilm-encoder"].sha256 == consistency.ENCODER_SHA256


# ------------------------------------------------------------------ the verdict


def test_paraphrase_of_a_seed_sentence_is_supported() -> None:
    article, sentences = _seed()
    paraphrase = "The Pentagon puts the number of people who have fled at about 20,000."
    status, codes = _check(paraphrase, article, sentences)
    assert status == "supported", codes
    assert codes == {"consistency-score"}
    # the word checks alone reject it: new words ("puts", "number") are not evidence
    evidence = " ".join(sentences[i] for i in best_matches(sentences, paraphrase, 3))
    assert check_rules(paraphrase, evidence, article).verification.status != "supported"


def test_sentence_stitched_from_two_seed_sentences_is_not_supported() -> None:
    article, sentences = _seed()
    status, codes = _check("The Pentagon estimates 45,000 people fled.", article, sentences)
    assert status != "supported", codes


def test_probability_separates_a_true_sentence_from_a_stitched_one() -> None:
    article, sentences = _seed()
    true = "The Pentagon estimates about 20,000 people have fled."
    stitched = "The Pentagon estimates 45,000 people had taken refuge in the final corner."
    evidence = [sentences[i] for i in best_matches(sentences, stitched, 3)]
    assert consistency.probability(true, evidence, article) > consistency.probability(
        stitched, evidence, article
    )


def test_hard_evidence_decides_alone() -> None:
    article, sentences = _seed()
    statement = "The Pentagon estimates about 90,000 people have fled."
    evidence = " ".join(sentences[i] for i in best_matches(sentences, statement, 3))
    verification = check_support(statement, evidence, article).verification
    codes = {r.code for r in verification.reasons}
    assert verification.status == "unsupported"
    assert "number-not-in-article" in codes & HARD_CODES
    assert "consistency-score" not in codes


def test_rules_alone_are_still_available() -> None:
    article, sentences = _seed()
    statement = sentences[5]
    rules = check_rules(statement, statement, article).verification
    assert rules.status == "supported" and rules.reasons == []
    alone = check_support(statement, statement, article, learned=False).verification
    assert alone == rules


# ------------------------------------------------------------------ retrieval


def test_best_matches_returns_reading_order_indices_of_the_best_sentences() -> None:
    sentences = [
        "The council met on Tuesday.",
        "Mayor Karen Bass announced 20,000 homes.",
        "Bass said the homes would be affordable.",
        "It rained.",
    ]
    assert best_matches(sentences, "Karen Bass promised 20,000 homes", 2) == [1, 2]
    assert best_matches(sentences, "nothing in common here", 2) == []
    assert best_matches(sentences, "Bass", 0) == []
    assert SentenceIndex(sentences).top("council Tuesday", 1) == [0]


def test_seed_file_is_where_the_tests_expect_it() -> None:
    assert SEED.name == "baghuz-voa-2019-03.txt"


# ------------------------------------------------------------------ cost


def test_a_statement_every_rule_check_passes_needs_no_scorer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    article, sentences = _seed()
    said = next(s for s in sentences if "the Pentagon estimates about 20,000" in s)

    def scorer(*args: object) -> float:
        raise AssertionError("the scorer ran")

    monkeypatch.setattr(consistency, "probability", scorer)
    verification = check_support(said, said, article).verification
    assert verification.status == "supported" and not verification.reasons


def test_encodings_are_kept_within_a_scope_only(monkeypatch: pytest.MonkeyPatch) -> None:
    encoder = consistency.encoder()
    runs: list[int] = []
    session = encoder._session

    class Counting:
        def run(self, *args: object, **kwargs: object) -> object:
            runs.append(1)
            return session.run(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(encoder, "_session", Counting())
    text = "The camp now holds more than 65,000 people."
    with consistency.encodings_cached():
        first = encoder.tokens(text)
        again = encoder.tokens(text)
    assert len(runs) == 1 and again is first
    with consistency.encodings_cached():
        encoder.tokens(text)
    encoder.tokens(text)
    assert len(runs) == 3, "nothing is kept across scopes (requests) or outside them"
