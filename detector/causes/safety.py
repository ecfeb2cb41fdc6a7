"""The structural safety rule for everything the cause rules say.

Saying what the evidence shows about a remedy is allowed (and wanted): "trials found that
magnesium does not prevent night cramps". Telling someone to take it is not. So the guard does
not ban words; it finds *instructions*: sentences whose main verb is an imperative (or a
"you should ...", "it is best to ...") that tells the reader to

- take a substance (a supplement, a medicine, a tincture, a herb, quinine...),
- pierce the skin (needles, pricking),
- stop or change a medicine,
- drink more.

Advice itself comes only from the short vetted list :data:`VETTED_ADVICE` (bedtime stretching,
first aid during a cramp, the stretching trial, reviewing medicines with the prescriber, talking
to a clinician); a rules file cannot add other advice.
"""

from __future__ import annotations

import re

VETTED_ADVICE: frozenset[str] = frozenset(
    {"bedtime_stretching", "during_a_cramp", "stretching_trial", "talk_first"})
"""Ids of the only advice rules a rules file may contain (cause-evidence.md, "Advice the module
may give")."""

INSTRUCTION_KINDS: tuple[str, ...] = (
    "taking a substance", "piercing the skin", "stopping a medicine", "drinking more")

_LEADS = re.compile(
    r"^(?:(?:please|so|then|and|also|just|now|first|instead|always|simply|daily|"
    r"every (?:day|night|evening))[\s,]+)*"
    r"(?:(?:you|one|people|patients|the reader)\s+(?:should|must|can|could|may|need to|"
    r"have to|ought to|had better|might want to)\s+|"
    r"(?:it is|it's)\s+(?:best|better|good|wise|recommended|advisable|useful|important|"
    r"necessary)\s+to\s+|(?:we|doctors|experts)\s+(?:recommend|advise|suggest)\s+"
    r"(?:that you\s+|you\s+)?|(?:try|remember|be sure|make sure|don't forget)\s+(?:to\s+)?|"
    r"consider\s+)*",
    re.IGNORECASE)

_SUBSTANCE = (r"magnesium|potassium|calcium|sodium|vitamin|b12|supplement|mineral|tablet|pill|"
              r"capsule|tincture|infusion|herb|thyme|linden|camphor|garlic|chicory|quinine|"
              r"tonic|medicine|medication|drug|mydocalm|tolperisone|gabapentin|phenytoin|"
              r"valpro|lamotrigine|phenobarbital|diltiazem|citrate|salt|ointment|vodka|"
              r"\bdose|\bmg\b|milligram|teaspoon|tablespoon")
_MEDICINE = (r"medicine|medication|tablet|pill|drug|diuretic|statin|inhaler|prescription|"
             r"\bdose|treatment|nifedipine|iron|estrogen|raloxifene|naproxen|teriparatide|"
             r"niacin")

_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("taking a substance", re.compile(
        rf"^(?:take|use|swallow|eat|have|add|include|buy|order|apply|rub|put|drink|chew|"
        rf"start|begin|supplement|replenish|top up|get|try|consider)\b.*(?:{_SUBSTANCE})",
        re.I)),    ("piercing the skin", re.compile(
        r"^(?:prick|pierce|puncture|inject|stick|jab)\b|"
        r"^(?:use|try|get|have|apply|do)\b.*\b(?:needle|acupunct|pin\b)", re.I)),
    ("stopping a medicine", re.compile(
        rf"^(?:stop|discontinue|quit|skip|halve|reduce|cut (?:down|back)|come off|"
        rf"give up|avoid|leave out|drop)\b.*(?:{_MEDICINE})", re.I)),
    ("drinking more", re.compile(
        r"^(?:drink|sip|increase|boost|raise|up)\b.*(?:water|fluid|glass|liquid|drink|more|"
        r"litre|liter|plenty)|^(?:stay|keep|remain)\s+(?:well\s+)?hydrated|^(?:rehydrate|"
        r"hydrate)\b", re.I)),

)


def sentences(text: str) -> list[str]:
    """Split text into sentences (also at semicolons, colons and list breaks)."""
    parts = re.split(r"(?<=[.!?;:])\s+|\n+|\s+[-•]\s+", " ".join(text.split()))
    return [p.strip(" \"'()") for p in parts if p.strip(" \"'()")]


def instructions(text: str) -> list[str]:
    """The kinds of forbidden instruction ``text`` gives (empty = none).

    Parameters
    ----------
    text : str
        Any wording: a finding, advice, a claim's evidence, a whole report.

    Returns
    -------
    list of str
        Items of :data:`INSTRUCTION_KINDS`, once each, in the order found.
    """
    found: list[str] = []
    for sentence in sentences(text):
        core = _LEADS.sub("", sentence, count=1).strip()
        if re.match(r"^(?:do not|don't|never|no)\b", core, re.I):
            continue  # a prohibition is not an instruction to do it
        for kind, rx in _RULES:
            if (rx.search(core) or rx.search(sentence)) and kind not in found:
                found.append(kind)
    return found
