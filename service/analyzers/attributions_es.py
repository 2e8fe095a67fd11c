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
from service.text import Document, Sentence

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
_SEGUN_START = re.compile(r"^\s*[Ss]egún\s+(?P<src>[^,;«»“”\"]{2,120}?)\s*,\s*")
_SEGUN_END = re.compile(r",\s*según\s+(?P<src>[^,;«»“”\".]{2,120}?)\s*[.!?]?\s*$")
_QUOTE = re.compile(r"[«“\"](?P<q>[^«»“”\"]{8,})[»”\"]")
#: A name run: capitalised words, with the particles Spanish names and bodies carry.
_NAME = re.compile(
    r"[A-ZÁÉÍÓÚÑ][\wáéíóúñü.-]+(?:\s+(?:(?:de|del|la|las|los|por|y|e)\s+)*"
    r"[A-ZÁÉÍÓÚÑ][\wáéíóúñü.-]+)*"
)
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


def speaker_type(source: str) -> SpeakerType:
    """Classify a Spanish source phrase: anonymous, document, organization or person
    (``unknown`` when nothing fits). A name in apposition ("El portavoz, Juan García")
    names the speaker; without one, "fuentes", "un portavoz" are anonymous."""
    parts = [p.strip() for p in source.split(",") if p.strip()]
    if not parts:
        return "unknown"
    first = parts[0]
    named = any(_NAME.fullmatch(p) for p in parts[1:])
    if _ANONYMOUS.match(first) and not named:
        return "anonymous"
    if _DOCUMENT.match(first):
        return "document"
    if _ORGANIZATION.search(first):
        return "organization"
    if named or first[:1].isupper():
        return "person"
    return "unknown"


def _head_name(source: str) -> str:
    """The proper name of a source phrase ("Lucía Ferrer" of "La alcaldesa, Lucía
    Ferrer"; "Vecinos por Valdeluna" of "El principal partido de la oposición, Vecinos
    por Valdeluna"), else the phrase without a leading article."""
    parts = [p.strip() for p in source.split(",") if p.strip()]
    if len(parts) > 1:
        for p in parts[1:]:
            if _NAME.fullmatch(p):
                return p
    phrase = parts[0] if parts else source.strip()
    return phrase


def _source_before(sentence: Sentence, cue_at: int) -> tuple[int, int] | None:
    """The noun phrase that opens the sentence and ends at the cue verb (at most 16
    words, no quote marks, no other finite reporting verb)."""
    head = sentence.text[:cue_at]
    if not head.strip() or any(c in head for c in '«»“”"'):
        return None
    words = head.split()
    if len(words) > 16 or words[0].lower() in ("que", "y", "pero", "aunque"):
        return None
    if not (words[0][:1].isupper() or words[0].lower() in _ARTICLES):
        return None
    return 0, len(head.rstrip())


def _from_sentence(
    doc: Document, s: Sentence
) -> list[tuple[TextSpan, TextSpan | None, TextSpan, bool]]:
    """``(source, cue, content, direct quote)`` of each attribution in sentence ``s``."""
    text, base = s.text, s.start
    out: list[tuple[TextSpan, TextSpan | None, TextSpan, bool]] = []
    if m := _SEGUN_START.match(text):
        src = _span(doc, base + m.start("src"), base + m.end("src"))
        cue = _span(doc, base + m.start(), base + m.start() + len("según") + 1)
        out.append((src, cue, _span(doc, base + m.end(), s.end), False))
        return out
    if m := _SEGUN_END.search(text):
        src = _span(doc, base + m.start("src"), base + m.end("src"))
        at = text.index("según", m.start())
        cue = _span(doc, base + at, base + at + len("según"))
        out.append((src, cue, _span(doc, base, base + m.start()), False))
        return out
    q = _QUOTE.search(text)
    if q is not None:
        after = text[q.end() :]
        post = re.match(rf"\s*,?\s*(?P<cue>{_CUES})\s+(?P<src>{_NAME.pattern})", after)
        if post is not None:
            a = base + q.end()
            src = _span(doc, a + post.start("src"), a + post.end("src"))
            cue = _span(doc, a + post.start("cue"), a + post.end("cue"))
            content = _span(doc, base + q.start(), base + q.end())
            out.append((src, cue, content, True))
            return out
    for c in _CUE.finditer(text):
        if c.group(0) in _NOT_A_CLAIM:
            break
        where = _source_before(s, c.start())
        if where is None:
            break
        src = _span(doc, base + where[0], base + where[1])
        cue = _span(doc, base + c.start(), base + c.end())
        rest = text[c.end() :]
        lead = re.match(r"\s*(?:que\s+)?", rest)
        start = c.end() + (lead.end() if lead else 0)
        content = _span(doc, base + start, s.end)
        if content.text:
            direct = bool(_QUOTE.fullmatch(content.text.strip(" .")))
            out.append((src, cue, content, direct))
        break
    return out


def find_attributions_es(doc: Document) -> tuple[Attribution, ...]:
    """The attributions of a Spanish ``doc``, in text order, with speakers linked."""
    out: list[Attribution] = []
    known: list[tuple[str, SpeakerType, str]] = []
    for s in doc.sentences:
        if doc.paragraph_of(s).role not in ("body", "list_item"):
            continue
        for src, cue, content, direct in _from_sentence(doc, s):
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
