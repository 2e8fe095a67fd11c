"""Spanish attributions: the four reporting shapes, speaker types, surname linking."""

from __future__ import annotations

from service.analyzers.attributions_es import find_attributions_es, speaker_type
from service.text import prepare

TEXT = (
    "El Gobierno regional aprueba el presupuesto\n\n"
    "El consejero de Hacienda, Martín Robles, aseguró que la deuda bajará un 3 % este año. "
    "«No habrá recortes en sanidad», dijo Robles tras el pleno.\n\n"
    "Según la Federación de Municipios, los ayuntamientos recibirán 40 millones menos. "
    "La oposición calificó las cuentas de irreales.\n\n"
    "La obra costará unos 80 millones de euros, según fuentes del departamento.\n\n"
    "La federación pidió una reunión urgente con el consejero."
)


def test_each_shape_gives_source_cue_and_content_with_exact_offsets() -> None:
    doc = prepare(TEXT)
    found = find_attributions_es(doc)
    rows = [
        (a.speaker_name, a.speaker_type, a.cue.text if a.cue else None, a.content.text)
        for a in found
    ]
    assert rows == [
        (
            "Martín Robles",
            "person",
            "aseguró",
            "la deuda bajará un 3 % este año",
        ),
        ("Martín Robles", "person", "dijo", "«No habrá recortes en sanidad»"),
        (
            "la Federación de Municipios",
            "organization",
            "Según",
            "los ayuntamientos recibirán 40 millones menos",
        ),
        ("La oposición", "organization", "calificó", "las cuentas de irreales"),
        (
            "fuentes del departamento",
            "anonymous",
            "según",
            "La obra costará unos 80 millones de euros",
        ),
    ]
    for a in found:
        for span in (a.source, a.cue, a.content):
            assert span is not None and doc.text[span.start : span.end] == span.text
    assert [a.direct_quote for a in found] == [False, True, False, False, False]


def test_a_surname_alone_links_to_the_first_full_mention() -> None:
    found = find_attributions_es(prepare(TEXT))
    first, later = found[0], found[1]
    assert later.source is not None and later.source.text == "Robles"
    assert later.linked_to == first.id
    assert later.resolved is not None and later.resolved.text == "Martín Robles"


def test_requests_and_headlines_are_not_attributions() -> None:
    found = find_attributions_es(prepare(TEXT))
    assert not any("reunión" in a.content.text for a in found)  # "pidió": a request
    assert not any("presupuesto" in a.content.text for a in found)  # the title


def test_speaker_types() -> None:
    assert speaker_type("fuentes municipales") == "anonymous"
    assert speaker_type("un portavoz") == "anonymous"
    assert speaker_type("El ayuntamiento") == "organization"
    assert speaker_type("el informe de la auditoría") == "document"
    assert speaker_type("Lucía Ferrer") == "person"
