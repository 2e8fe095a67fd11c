"""Figures: values, counted nouns, sources, time, approximation and conflicts."""

from __future__ import annotations

from service.analyzers import analyze
from service.text import prepare


def _figures(text: str) -> list[tuple[str, float, str | None]]:
    doc = prepare(text)
    found = analyze(doc).figures
    for f in found:
        assert doc.text[f.span.start : f.span.end] == f.span.text
    return [(f.span.text, f.value, f.counted) for f in found]


def test_values_in_digits_words_units_and_percent() -> None:
    got = _figures(
        "Some 1,200 people left. Twelve soldiers died. Costs hit $3.5 million. "
        "Turnout was 45 percent. Two hundred homes burned."
    )
    assert got == [
        ("1,200", 1200.0, "people"),
        ("Twelve", 12.0, "soldiers"),
        ("$3.5 million", 3_500_000.0, "money"),
        ("45 percent", 45.0, "percent"),
        ("Two hundred", 200.0, "homes"),
    ]


def test_years_dates_and_compounds_are_not_figures() -> None:
    assert _figures("On March 6, 2019, a 48-hour truce began.") == []


def test_source_time_and_approximation() -> None:
    doc = prepare("The army said on Friday that about 300 fighters surrendered.")
    (fig,) = analyze(doc).figures
    assert fig.source == "The army"
    assert fig.time == "on Friday"
    assert fig.approximate and fig.value == 300.0 and fig.counted == "fighters"


def test_conflict_needs_two_sources_and_two_values() -> None:
    text = (
        "The army estimated that about 300 people died.\n\n"
        "Rebels claimed more than 900 people died.\n\n"
        "The army later estimated that nearly 300 people died."
    )
    (conflict,) = analyze(prepare(text)).conflicts
    assert conflict.quantity == "people dead"
    assert [(f.value, f.source) for f in conflict.figures] == [
        (300.0, "The army"),
        (900.0, "Rebels"),
        (300.0, "The army"),
    ]


def test_no_conflict_for_one_source_or_unhedged_figures_of_no_stated_state() -> None:
    same_source = "The army said about 300 people died. The army said about 400 people died."
    assert analyze(prepare(same_source)).conflicts == ()
    exact = "The army said 300 people attended. Rebels said 900 people marched."
    assert analyze(prepare(exact)).conflicts == ()


def test_firm_death_tolls_from_two_sources_conflict() -> None:
    exact = "The army said 300 people died. Rebels said 900 people died."
    (conflict,) = analyze(prepare(exact)).conflicts
    assert conflict.quantity == "people dead"
    assert [(f.value, f.source) for f in conflict.figures] == [
        (300.0, "The army"),
        (900.0, "Rebels"),
    ]


def test_total_inherits_the_counted_noun() -> None:
    got = _figures("About 20,000 people have fled. The total may be closer to 25,000.")
    assert got[1] == ("25,000", 25000.0, "people")


def test_figures_of_people_in_the_same_state_conflict() -> None:
    doc = prepare(
        "The interior ministry said 47 people had been confirmed dead and 112 were missing. "
        "The governor said at least 63 people had died. The Red Cross put the number of "
        "missing at more than 200. The ministry said about 18,000 people had been "
        "evacuated, while the Red Cross said 26,000 people were staying in shelters."
    )
    found = analyze(doc)
    groups = {c.quantity: sorted(f.value for f in c.figures) for c in found.conflicts}
    assert groups == {
        "people dead": [47.0, 63.0],
        "people missing": [112.0, 200.0],
        "people displaced": [18000.0, 26000.0],
    }
    by_value = {f.value: f for f in found.figures}
    assert by_value[112.0].counted == "people" and by_value[112.0].status == "missing"


def test_different_states_are_not_one_quantity() -> None:
    doc = prepare(
        "Officials said about 30 people were killed. Aid groups said some 5,000 people "
        "were evacuated."
    )
    assert analyze(doc).conflicts == ()
