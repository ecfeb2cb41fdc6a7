"""Findings as plain text, for ``cramp causes`` and ``cramp report --text``."""

from __future__ import annotations

import textwrap

from detector.causes.engine import CauseReport, Finding

STRENGTH_WORDS: dict[str, str] = {
    "established": "well established",
    "plausible": "plausible",
    "weak": "weak evidence",
    "unsupported": "not supported by evidence",
}
VERDICT_WORDS: dict[str, str] = {
    "helps_some": "some trial support",
    "unproven": "not shown to help",
    "no_benefit": "trials found no benefit",
    "risky": "not shown to help, and can do harm",
    "not_for_cramps": "a hospital treatment for other conditions",
}
"""What the evidence shows about a claim of the seed article, in words."""
LEVEL_WORDS: dict[str, str] = {"urgent": "URGENT", "see_clinician": "see a clinician"}


def no_diary_sentence(report: CauseReport) -> str | None:
    """The sentence shown when neither diary nor profile is kept (``None`` when one is)."""
    if report.n_diary_entries or not report.profile_empty:
        return None
    return ("No diary-based analysis is available yet: no evening diary entries or profile "
            "are stored for these nights (the commands cramp diary add and cramp profile "
            "keep them).")


def finding_line(f: Finding) -> str:
    """One finding as one line: label, text and advice."""
    if f.kind == "red_flag":
        label = LEVEL_WORDS.get(f.level or "", "see a clinician")
    elif f.kind == "factor":
        label = f"{f.name}; {STRENGTH_WORDS.get(f.strength or '', '')}"
    elif f.kind == "claim":
        label = f"{f.name}; {VERDICT_WORDS.get(f.strength or '', '')}"
        return f"[{label}] {f.text} (Source: {f.source}.)"
    elif f.kind == "association":
        label = "your nights"
    else:
        label = "advice"
    advice = f" {f.advice}" if f.advice else ""
    return f"[{label}] {f.text}{advice}"


def findings_text(report: CauseReport, *, width: int = 78, with_flags: bool = True) -> str:
    """The findings as wrapped plain text, ending with the not-a-diagnosis notice."""
    lines: list[str] = []
    groups = (("When to see a clinician", ("red_flag",)),
              ("Possible contributing factors", ("factor",)),
              ("What the evidence says about claims that concern you", ("claim",)),
              ("What goes with your cramp nights", ("association",)),
              ("What you can do", ("advice",)))
    for title, kinds in groups:
        if title == "When to see a clinician" and not with_flags:
            continue
        items = [f for f in report.findings if f.kind in kinds]
        if kinds == ("factor",):
            missing = no_diary_sentence(report)
            if missing:
                lines += textwrap.wrap(f"{title}: {missing}", width=width, break_on_hyphens=False)
                lines.append("")
                continue
            if not items:
                note = ("none of the rated factors applies to this period" if
                        report.n_cramp_nights else "no cramps in this period")
                lines += textwrap.wrap(f"{title}: {note}.", width=width)
                lines.append("")
                continue
        if not items:
            if kinds == ("red_flag",):
                lines.append(f"{title}: none of the warning signs was seen.")
                lines.append("")
            continue
        lines.append(f"{title}:")
        for f in items:
            lines += textwrap.wrap(finding_line(f), width=width, initial_indent="  - ",
                                   subsequent_indent="    ", break_on_hyphens=False)
        lines.append("")
    lines += textwrap.wrap(report.not_a_diagnosis, width=width)
    return "\n".join(lines) + "\n"
