"""Safety: no output recommends needles, tinctures, herbs, quinine, supplements, doses, more
drinking (least of all with kidney failure, dialysis or cirrhosis) or stopping a medicine;
every output says it is not a diagnosis.

The needle list is written here, independently of the guard in ``detector.causes.rules``.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from test_causes_scenarios import SCENARIOS

from detector.causes.engine import CauseReport
from detector.causes.render import findings_text
from detector.causes.rules import default_rules_text, parse_rules
from detector.errors import CrampInputError

NEEDLES: dict[str, str] = {
    "needle": r"needle|prick|acupunct|pierc",
    "tincture": r"tincture|vodka|linden|liquor",
    "herbal": r"herbal|\bherbs?\b|thyme|infusion|chicory|dandelion|acorn|camphor|garlic|"
              r"sea salt|foot bath",
    "quinine": r"quinine|tonic water|\btonic\b",
    "supplement": r"supplement|magnesium|\bpotassium\b(?!-sparing)|potassium citrate|vitamin|"
                  r"\bzinc\b|multivitamin|mineral complex|b12|iherb",
    "dose": r"\bdoses?\b|\bdosage|\d\s*mg\b|milligram|tablespoon|teaspoon|\btablets?\b|"
            r"\bpills?\b|capsule|twice a day|three times a day",
    "named drug as treatment": r"mydocalm|gabapentin|tolperisone|phenytoin|valpro|lamotrigine|"
                               r"phenobarbital|diltiazem",
    "lower lip": r"lower lip",
    "more water": r"drink (more|plenty|lots|extra)|more (water|fluid)|glasses of water|"
                  r"6 to 8|8 glasses|stay hydrated|keep hydrated|rehydrat|increase .*fluid",
    "stop a medicine": r"\bstop|discontinu|\bquit|come off|cut down on your med|"
                       r"without your (tablets|medicine)",
}


def _hits(text: str) -> list[str]:
    return [name for name, rx in NEEDLES.items() if re.search(rx, text, re.IGNORECASE)]


def _rules_texts() -> list[tuple[str, str]]:
    data = tomllib.loads(default_rules_text())
    out = [("meta", data["meta"]["not_a_diagnosis"])]
    for rule in data["rule"]:
        for key in ("name", "wording", "advice", "source"):
            out.append((f"{rule['id']}.{key}", rule.get(key, "")))
    out += [(f"exposure {e['id']}", e["label"]) for e in data["exposure"]]
    return out


def test_the_needles_find_what_they_should() -> None:
    """The scanner itself can fail: seed-article advice is caught, safe advice is not."""
    unsafe = [
        "prick the calf with a needle", "linden blossom tincture with vodka",
        "drink thyme infusion for 30 days", "a glass of tonic water at night",
        "take magnesium in moderation", "natural potassium citrate", "a vitamin-mineral complex",
        "400 mg at bedtime", "drink 6 to 8 glasses of water every day",
        "stop taking the diuretic", "press the lower lip for half a minute",
        "drink more fluids", "Mydocalm is effective",
    ]
    for text in unsafe:
        assert _hits(text), text
    safe = ["Review your medicines with your prescriber. Keep taking them as prescribed.",
            "Potassium-sparing diuretics are linked with night cramps.",
            "Stretch the calves for about 3 minutes at bedtime."]
    for text in safe:
        assert _hits(text) == [], text


@pytest.mark.parametrize(("where", "text"), _rules_texts())
def test_every_wording_in_the_rules_file_is_safe(where: str, text: str) -> None:
    assert _hits(text) == [], where


def test_unsupported_factors_say_so_and_advise_nothing_risky() -> None:
    data = tomllib.loads(default_rules_text())
    unsupported = [r for r in data["rule"] if r.get("strength") == "unsupported"]
    assert len(unsupported) >= 10
    for r in unsupported:
        assert "evidence does not support" in " ".join(r["wording"].split()), r["id"]
        assert not re.search(r"\btry\b|\bshould\b|recommend", r["advice"], re.I), r["id"]


def _all_output(report: CauseReport) -> str:
    parts = [f.text + "\n" + f.advice + "\n" + f.name for f in report.findings]
    parts.append(findings_text(report))
    parts.append(json.dumps(report.to_dict()))
    return "\n".join(parts)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_finding_of_every_scenario_is_safe(name: str, tmp_path: Path) -> None:
    report = SCENARIOS[name](tmp_path / "e.sqlite3")
    assert report.findings
    for f in report.findings:
        assert _hits(f"{f.name} {f.text} {f.advice}") == [], (name, f.rule_id)
    out = _all_output(report)
    assert _hits(out) == [], name
    assert "not a diagnosis" in findings_text(report).lower()
    assert "not a diagnosis" in report.to_dict()["not_a_diagnosis"].lower()


@pytest.mark.parametrize("name", ["kidney_failure_low_fluids", "everything"])
def test_no_drinking_advice_with_fluid_limits(name: str, tmp_path: Path) -> None:
    report = SCENARIOS[name](tmp_path / "e.sqlite3")
    said = " ".join(f"{f.text} {f.advice}" for f in report.findings).lower()
    assert not re.search(r"drink (more|plenty|lots|extra)|more (water|fluid)|hydrat", said)
    assert "glasses of water" not in said


@pytest.mark.parametrize(("field", "text", "what"), [
    ("advice", "Take magnesium at bedtime.", "supplements"),
    ("advice", "Drink more water in the evening.", "drinking more"),
    ("wording", "A glass of tonic water helps.", "quinine"),
    ("advice", "Stop the statin for a week.", "stopping a medicine"),
    ("advice", "Prick the calf with a needle.", "needles"),
    ("wording", "A 400 mg dose helps.", "doses"),
    ("name", "Herbal tea", "herbal"),
])
def test_an_override_file_cannot_add_unsafe_wording(field: str, text: str, what: str) -> None:
    rule = {"id": "x", "kind": "advice", "name": "Something", "condition": "{ always = true }",
            "source": "none", "wording": "Fine words.", "advice": ""}
    rule[field] = text
    lines = ['[meta]', 'version = 1', 'not_a_diagnosis = "This is not a diagnosis."',
             '[[rule]]'] + [f"{k} = {v}" if k == "condition" else f"{k} = {json.dumps(v)}"
                            for k, v in rule.items()]
    with pytest.raises(CrampInputError) as info:
        parse_rules("\n".join(lines), origin="override.toml")
    message = str(info.value)
    assert "\n" not in message and "override.toml rule x" in message
    assert "may not mention" in message and what in message
