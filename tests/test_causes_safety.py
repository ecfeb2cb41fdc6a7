"""Safety as a structural rule: no output instructs anyone to take a substance, pierce the
skin, stop a medicine or drink more (least of all with kidney failure, dialysis or cirrhosis);
claims of the seed article each have a verdict and a source; advice comes only from a vetted
list; every output says it is not a diagnosis.

The instruction detector is written here, independently of ``detector.causes.safety``.
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
from detector.causes.rules import VERDICTS, default_rules, default_rules_text, parse_rules
from detector.causes.safety import VETTED_ADVICE, instructions
from detector.errors import CrampInputError

# The instruction detector is written here, independently of detector.causes.safety: an
# imperative (or "you should ...") whose object is a substance, the skin, a medicine or drinking.
_LEAD = (r"^(?:please\s+|you (?:should|must|can|need to)\s+|it is (?:best|recommended|good) "
         r"to\s+|try (?:to\s+)?|remember to\s+)*")
INSTRUCTIONS: dict[str, str] = {
    "take a substance": _LEAD + r"(?:take|eat|use|swallow|add|buy|order|apply|rub|drink|try)\b.*"
                        r"(?:magnesium|potassium|calcium|vitamin|b12|supplement|tablet|pill|"
                        r"tincture|infusion|thyme|linden|camphor|quinine|tonic|mydocalm|"
                        r"gabapentin|salt|ointment|medicine|mineral)",
    "pierce the skin": _LEAD + r"(?:prick|pierce|inject|stick)\b|" + _LEAD
                       + r"(?:use|try|get)\b.*needle",
    "stop a medicine": _LEAD + r"(?:stop|discontinue|quit|skip|reduce)\b.*(?:medicine|tablet|"
                       r"diuretic|statin|drug|pill|inhaler)",
    "drink more": _LEAD + r"(?:drink|increase)\b.*(?:water|fluid|glass|more)|"
                  r"stay hydrated",
}


def _hits(text: str) -> list[str]:
    out = []
    for sentence in re.split(r"(?<=[.!?;:])\s+", " ".join(text.split())):
        for name, rx in INSTRUCTIONS.items():
            if re.search(rx, sentence.strip(), re.IGNORECASE) and name not in out:
                out.append(name)
    return out


def test_the_detectors_find_instructions_and_pass_evidence() -> None:
    """Both detectors (this test's and the product's) can fail: the seed article's
    instructions are caught, statements of what the evidence shows are not."""
    unsafe = [
        "Prick the calf with a needle.", "Drink a linden blossom tincture with vodka.",
        "Drink thyme infusion for 30 days.", "Take magnesium in moderation.",
        "You should take potassium citrate.", "Buy a vitamin-mineral complex.",
        "Drink 6 to 8 glasses of water every day.", "Stop taking the diuretic.",
        "Try Mydocalm for the spasms.", "It is best to take calcium tablets at night.",
    ]
    for text in unsafe:
        assert _hits(text), text
        assert instructions(text), text
    safe = ["Review your medicines with your prescriber. Keep taking them as prescribed.",
            "Potassium-sparing diuretics are linked with night cramps.",
            "Stretch the calves for about 3 minutes at bedtime.",
            "Trials found that magnesium does not prevent night cramps.",
            "The article says 6-8 glasses of water a day help; no study supports it.",
            "Pricking the leg with a needle risks infection.",
            "Do not stop a medicine without talking to your prescriber."]
    for text in safe:
        assert _hits(text) == [], text
        assert instructions(text) == [], text


def _rules_texts() -> list[tuple[str, str]]:
    data = tomllib.loads(default_rules_text())
    out = [("meta", data["meta"]["not_a_diagnosis"])]
    for rule in data["rule"]:
        for key in ("name", "wording", "advice", "source"):
            out.append((f"{rule['id']}.{key}", rule.get(key, "")))
    out += [(f"exposure {e['id']}", e["label"]) for e in data["exposure"]]
    for claim in data["claim"]:
        for key in ("name", "claim", "evidence", "source"):
            out.append((f"claim {claim['id']}.{key}", claim[key]))
    return out


SEED_CLAIMS: dict[str, str] = {
    "magnesium": r"magnesium", "potassium": r"potassium", "calcium": r"calcium\b",
    "vitamin D": r"vitamin d", "B vitamins": r"\bb(12| vitamins)", "fluids": r"glasses of water",
    "foot baths": r"foot bath", "ointments": r"ointment", "compression": r"compression",
    "legs raised": r"legs raised", "heel walking": r"heel", "exercise bike": r"exercise bike",
    "stretching": r"stretch", "lip pressure": r"\blip\b", "needles": r"needle",
    "herbal drinks": r"herbal|thyme|linden", "herbal rubs": r"camphor|garlic",
    "named drugs": r"mydocalm|gabapentin", "oxygen": r"oxygen", "drips": r"drip",
    "acupuncture": r"acupuncture",
}


@pytest.mark.parametrize("what", sorted(SEED_CLAIMS))
def test_every_seed_claim_has_a_verdict_and_a_source(what: str) -> None:
    """Each remedy and cause the seed article names is answered, rated, with its source."""
    rules = default_rules()
    rx = re.compile(SEED_CLAIMS[what], re.IGNORECASE)
    hits = [c for c in rules.claims if rx.search(f"{c.name} {c.claim}")]
    assert hits, what
    for c in hits:
        assert c.verdict in VERDICTS and c.source.strip() and c.evidence.strip(), c.id
        assert instructions(f"{c.name}. {c.evidence}") == [], c.id
    listing = _cli(["causes", "--list-rules"])
    assert any(c.id in listing and c.source[:30] in " ".join(listing.split()) for c in hits)


def test_list_rules_answers_magnesium_with_what_trials_found() -> None:
    listing = " ".join(_cli(["causes", "--list-rules"]).split())
    assert "magnesium [trials found no benefit]" in listing
    assert "Cochrane" in listing
    assert _hits(listing) == [] and instructions(listing) == []


def _cli(argv: list[str]) -> str:
    import contextlib
    import io

    from detector.cli.main import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(argv) == 0
    return buf.getvalue()


def test_advice_comes_only_from_the_vetted_list() -> None:
    rules = default_rules()
    assert {r.id for r in rules.rules if r.kind == "advice"} <= VETTED_ADVICE
    lines = ['[meta]', 'version = 1', 'not_a_diagnosis = "This is not a diagnosis."',
             '[[rule]]', 'id = "warm_socks"', 'kind = "advice"', 'name = "Socks"',
             'condition = { always = true }', 'source = "none"',
             'wording = "Wear warm socks."']
    with pytest.raises(CrampInputError, match="vetted list"):
        parse_rules("\n".join(lines), origin="override.toml")
    # positive control: the same file with a vetted id loads
    lines[4] = 'id = "talk_first"'
    assert parse_rules("\n".join(lines), origin="override.toml").rules[0].id == "talk_first"


def test_a_claim_needs_a_verdict_and_may_not_instruct() -> None:
    head = ['[meta]', 'version = 1', 'not_a_diagnosis = "This is not a diagnosis."',
            '[[rule]]', 'id = "talk_first"', 'kind = "advice"', 'name = "x"',
            'condition = { always = true }', 'source = "s"', 'wording = "Talk to a clinician."',
            '[[claim]]', 'id = "mg"', 'name = "Magnesium"', 'claim = "It helps."',
            'source = "Cochrane 2020"']
    ok = [*head, 'verdict = "no_benefit"', 'evidence = "Trials found no benefit."']
    assert parse_rules("\n".join(ok), origin="o.toml").claims[0].verdict == "no_benefit"
    with pytest.raises(CrampInputError, match="verdict"):
        parse_rules("\n".join([*head, 'evidence = "Trials found no benefit."']), origin="o")
    bad = [*head, 'verdict = "helps_some"', 'evidence = "Take magnesium at bedtime."']
    with pytest.raises(CrampInputError, match="may not instruct taking a substance"):
        parse_rules("\n".join(bad), origin="o.toml")


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
    said = " ".join(f"{f.text} {f.advice}" for f in report.findings)
    assert "drink more" not in _hits(said)
    assert "drinking more" not in instructions(said)
    # the fluids claim is answered, and says that some conditions limit drinking
    fluids = [f for f in report.findings if f.rule_id == "claim:fluids"]
    assert fluids and "limits on drinking" in fluids[0].text


@pytest.mark.parametrize(("field", "text", "what"), [
    ("wording", "Take magnesium at bedtime.", "taking a substance"),
    ("wording", "Drink more water in the evening.", "drinking more"),
    ("wording", "You should drink a glass of tonic water.", "taking a substance"),
    ("wording", "Stop the statin for a week.", "stopping a medicine"),
    ("wording", "Prick the calf with a needle.", "piercing the skin"),
    ("name", "Take herbal tea tablets", "taking a substance"),
])
def test_an_override_file_cannot_add_an_instruction(field: str, text: str, what: str) -> None:
    rule = {"id": "x", "kind": "factor", "strength": "weak", "name": "Something",
            "condition": "{ reference = true }", "source": "none", "wording": "Fine words.",
            "advice": ""}
    rule[field] = text
    lines = ['[meta]', 'version = 1', 'not_a_diagnosis = "This is not a diagnosis."',
             '[[rule]]'] + [f"{k} = {v}" if k == "condition" else f"{k} = {json.dumps(v)}"
                            for k, v in rule.items()]
    with pytest.raises(CrampInputError) as info:
        parse_rules("\n".join(lines), origin="override.toml")
    message = str(info.value)
    assert "\n" not in message and "override.toml rule x" in message
    assert "may not instruct" in message and what in message


@pytest.mark.parametrize("name", ["kidney_failure_low_fluids", "everything"])
def test_the_rendered_report_gives_no_instruction(name: str, tmp_path: Path) -> None:
    """The whole report a person reads (HTML as text, and --text) instructs nothing, and the
    claims that concern this person are in it with their verdicts."""
    import contextlib
    import io
    from html import unescape

    from store_helpers import cramp

    db = tmp_path / "e.sqlite3"
    SCENARIOS[name](db)
    out = tmp_path / "r.html"
    assert cramp(["report", "--db", str(db), "--out", str(out), "--last", "60"]) == 0
    html = out.read_text(encoding="utf-8")
    words = unescape(re.sub(r"<style>.*?</style>|<[^>]+>", " ", html, flags=re.S))
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert cramp(["report", "--db", str(db), "--text", "--last", "60"]) == 0
    for text in (words, buf.getvalue()):
        assert _hits(text) == [], _hits(text)
        assert instructions(text) == [], instructions(text)
    assert 'data-finding="claim:fluids"' in html  # fluids in the diary or a fluid limit
    assert "What the evidence says about claims that concern you" in buf.getvalue()
