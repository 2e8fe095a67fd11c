"""Who said what in Spanish text: reporting-verb rules (no parser, no trained model).

The English tagger and its rules read English only; Spanish newsrooms write their
attributions in a handful of shapes, which these rules find sentence by sentence:

====================================================  =====================================
shape                                                 source / cue / content
====================================================  =====================================
``Según la Asociación de Comerciantes, las ventas…``  after "según" up to the comma
``…con un coste de 12 millones, según fuentes…``      after the final "según"
``«No podemos seguir…», dijo Ferrer tras la…``        the name after the postposed verb
``La alcaldesa, Lucía Ferrer, afirmó que el plan…``   the noun phrase before the verb
====================================================  =====================================

A source's speaker is its proper name when it has one ("Lucía Ferrer" of "La alcaldesa,
Lucía Ferrer"); a later surname alone ("dijo Ferrer") links to the first full mention.
Speaker types come from the phrase's head: "fuentes", "un portavoz" without a name are
anonymous; "Ayuntamiento", "asociación", "partido" organisations; "informe", "estudio"
documents; a capitalised name otherwise a person. Every span is offset-exact.
"""

from __future__ import annotations

import re

from service.analyzers.attributions import _mention
from service.analyzers.findings import Attribution, SpeakerType, TextSpan
from service.text import DISPLAY_ROLES, Document, Sentence

_CUES = (
    "afirm[óa]|afirman|afirmaron|asegur[óa]|aseguran|aseguraron|dijo|dice|dicen|dijeron|"
    "declar[óa]|declararon|explic[óa]|explicaron|señal[óa]|señalaron|indic[óa]|indicaron|"
    "añadió|añade|agreg[óa]|advirti[óo]|advierte|advierten|sostuvo|sostiene|manifestó|"
    "expresó|comentó|subrayó|insisti[óo]|reconoci[óo]|reconoce|denunci[óa]|critic[óa]|"
    "calific[óa]|calificaron|calcula|calculan|calculó|estima|estiman|estimó|prevé|prevén|"
    "consider[óa]|consideran|cree|creen|anunci[óa]|anunciaron|inform[óa]|informaron|"
    "neg[óa]|niegan|admiti[óo]|admite|destac[óa]|apunt[óa]|precis[óa]|aclar[óa]|"
    "record[óa]|alert[óa]|confirm[óa]|confirmaron|opin[óa]|defendi[óo]|defiende|"
    "lament[óa]|valor[óa]|tuite[óo]|escribi[óo]|escribe|sugiri[óo]|sugiere|"
    "reiter[óa]|garantiz[óa]|prometi[óo]|promete"
)
_CUE = re.compile(rf"\b(?:{_CUES})\b")
_SEGUN_START = re.compile(r"^\s*(?P<cue>[Ss]egún)\s+(?P<src>[^,;«»“”\"]{2,120}?)\s*,\s*")
_SEGUN_END = re.compile(r",\s*(?P<cue>según)\s+(?P<src>[^,;«»“”\".]{2,120}?)\s*[.!?]?\s*$")
_QUOTE = re.compile(r"[«“\"](?P<q>[^«»“”\"]{8,})[»”\"]")
#: A name run: capitalised words, with the particles Spanish names and bodies carry.
_NAME = re.compile(
    r"[A-ZÁÉÍÓÚÑ][\wáéíóúñü.-]+(?:\s+(?:(?:de|del|la|las|los|por|y|e)\s+)*"
    r"[A-ZÁÉÍÓÚÑ][\wáéíóúñü.-]+)*"
)
#: The verb and the name that follow a quote ("», dijo Ferrer").
_POSTPOSED = re.compile(rf"\s*,?\s*(?P<cue>{_CUES})\s+(?P<src>{_NAME.pattern})")
_ARTICLES = frozenset(["el", "la", "los", "las", "un", "una", "unos", "unas"])
_ANONYMOUS = re.compile(
    r"^(?:(?:el|la|las|los|un|unas?|unos|dos|varias|varios|algunas|algunos)\s+)?"
    r"(?:fuentes?|portavoz|portavoces|responsables?|funcionari[oa]s?|expertos?|testigos?|"
    r"vecinos|técnicos|agentes|investigadores)\b",
    re.IGNORECASE,
)
_ORGANIZATION = re.compile(
    r"\b(?:ayuntamiento|gobierno|ministerio|asociaci[oó]n|partido|oposici[oó]n|sindicato|"
    r"empresa|compañía|consejo|comit[eé]|comisi[oó]n|polic[ií]a|guardia|ej[eé]rcito|"
    r"tribunal|fiscal[ií]a|universidad|instituto|federaci[oó]n|fundaci[oó]n|banco|"
    r"junta|diputaci[oó]n|generalitat|xunta|cabildo|ONU|UE|OMS)\b",
    re.IGNORECASE,
)
_DOCUMENT = re.compile(
    r"^(?:(?:el|la|un|una)\s+)?(?:informe|estudio|documento|comunicado|encuesta|sondeo|"
    r"nota|datos|cifras|estimaci[oó]n|auditor[ií]a)\b",
    re.IGNORECASE,
)
#: Requests and announcements of intent are not claims to check.
_NOT_A_CLAIM = frozenset({"pidió", "pide", "piden", "reclamó", "reclama"})


def _span(doc: Document, start: int, end: int) -> TextSpan:
    while start < end and doc.text[start] in " ,":
        start += 1
    while end > start and doc.text[end - 1] in " ,.;":
        end -= 1
    return TextSpan(start, end, doc.text[start:end])


def _parts(source: str) -> tuple[str, str | None]:
    """``(first part, name in apposition or None)`` of a source phrase: "La alcaldesa,
    Lucía Ferrer" -> ("La alcaldesa", "Lucía Ferrer")."""
    parts = [p.strip() for p in source.split(",") if p.strip()]
    first = parts[0] if parts else source.strip()
    return first, next((p for p in parts[1:] if _NAME.fullmatch(p)), None)


def speaker_type(source: str) -> SpeakerType:
    """Classify a Spanish source phrase: anonymous, document, organization or person
    (``unknown`` when nothing fits). A name in apposition ("El portavoz, Juan García")
    names the speaker; without one, "fuentes", "un portavoz" are anonymous."""
    first, named = _parts(source)
    if not first:
        return "unknown"
    if _ANONYMOUS.match(first) and named is None:
        return "anonymous"
    if _DOCUMENT.match(first):
        return "document"
    if _ORGANIZATION.search(first):
        return "organization"
    if named is not None or first[:1].isupper():
        return "person"
    return "unknown"


def _head_name(source: str) -> str:
    """The proper name of a source phrase ("Lucía Ferrer" of "La alcaldesa, Lucía
    Ferrer"; "Vecinos por Valdeluna" of "El principal partido de la oposición, Vecinos
    por Valdeluna"), else its first part ("El ayuntamiento")."""
    first, named = _parts(source)
    return named or first


def _source_end(sentence: Sentence, cue_at: int) -> int | None:
    """Where the noun phrase that opens the sentence and ends at the cue verb ends (at
    most 16 words, no quote marks, not a clause opened by a conjunction)."""
    head = sentence.text[:cue_at]
    if not head.strip() or any(c in head for c in '«»“”"'):
        return None
    words = head.split()
    if len(words) > 16 or words[0].lower() in ("que", "y", "pero", "aunque"):
        return None
    if not (words[0][:1].isupper() or words[0].lower() in _ARTICLES):
        return None
    return len(head.rstrip())


#: ``(source, cue, content, direct quote)`` of one attribution.
_Found = tuple[TextSpan, TextSpan, TextSpan, bool]


def _from_sentence(doc: Document, s: Sentence) -> _Found | None:
    """The attribution of sentence ``s``, in the first shape that fits (see the module
    table), or ``None``."""
    text, base = s.text, s.start

    def span(m: re.Match[str], group: int | str) -> TextSpan:
        return _span(doc, base + m.start(group), base + m.end(group))

    if m := _SEGUN_START.match(text):
        return span(m, "src"), span(m, "cue"), _span(doc, base + m.end(), s.end), False
    if m := _SEGUN_END.search(text):
        return span(m, "src"), span(m, "cue"), _span(doc, base, base + m.start()), False
    q = _QUOTE.search(text)
    if q is not None and (post := _POSTPOSED.match(text, q.end())) is not None:
        return span(post, "src"), span(post, "cue"), span(q, 0), True
    c = _CUE.search(text)
    if c is None or c.group(0) in _NOT_A_CLAIM:
        return None
    end = _source_end(s, c.start())
    if end is None:
        return None
    lead = re.match(r"\s*(?:que\s+)?", text[c.end() :])
    content = _span(doc, base + c.end() + (lead.end() if lead else 0), s.end)
    if not content.text:
        return None
    direct = bool(_QUOTE.fullmatch(content.text.strip(" .")))
    return _span(doc, base, base + end), span(c, 0), content, direct


def find_attributions_es(doc: Document) -> tuple[Attribution, ...]:
    """The attributions of a Spanish ``doc``, in text order, with speakers linked."""
    out: list[Attribution] = []
    known: list[tuple[str, SpeakerType, str]] = []
    for s in doc.sentences:
        found = None if doc.paragraph_of(s).role in DISPLAY_ROLES else _from_sentence(doc, s)
        if found is None:
            continue
        src, cue, content, direct = found
        aid = f"A{len(out) + 1}"
        name = _head_name(src.text)
        stype = speaker_type(src.text)
        linked: str | None = None
        for kname, ktype, kid in known:
            if kname == name or (
                stype == ktype == "person"
                and len(name.split()) < len(kname.split())
                and kname.split()[-1] == name.split()[-1]
            ):
                linked, name = kid, kname
                break
        if linked is None:
            known.append((name, stype, aid))
        out.append(
            Attribution(
                id=aid,
                source=src,
                cue=cue,
                content=content,
                speaker_name=name,
                speaker_type=stype,
                direct_quote=direct,
                sentence_ids=(s.id,),
                linked_to=linked,
                resolved=_mention(out, linked),
            )
        )
    return tuple(out)
