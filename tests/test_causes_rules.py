"""Tests of the rules file: shipped as package data, complete, honest, strictly validated."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.causes.conditions import AllOf, Compare, Reference, parse_condition
from detector.causes.rules import (
    default_rules,
    default_rules_text,
    load_rules,
    parse_rules,
)
from detector.errors import CrampInputError
from detector.report.summary import LONG_CRAMP_S

# Every factor the seed article names, as the rule id that rates it (written from the article).
ARTICLE_FACTORS: dict[str, str] = {
    "older age (over 45)": "older_age",
    "pregnancy": "pregnancy",
    "children": "child",
    "lack of minerals in the diet": "diet_minerals",
    "vitamin shortage": "nutrient_shortage",
    "slow circulation during sleep": "slow_circulation",
    "Parkinson's disease": "parkinsons",
    "Addison's disease": "addisons",
    "type 2 diabetes": "diabetes",
    "peripheral arterial disease": "pad",
    "alcoholism": "alcohol",
    "cirrhosis of the liver": "cirrhosis",
    "blood-pressure medicines": "blood_pressure_medicines",
    "diuretics": "thiazide",
    "vomiting or diarrhoea": "vomiting_diarrhoea",
    "strenuous activity before bed": "strenuous_exercise",
    "dehydration / 6-8 glasses of water": "low_fluids",
    "sitting uncomfortably for long": "long_sitting",
    "hypothermia / cold": "cold_bedroom",
    "bright light, loud sound": "light_noise",
    "varicose veins": "varicose_veins",
    "thrombophlebitis": "clot_mimic",
    "diseases of the spine": "lumbar_stenosis",
    "traumatic brain injury, inflammation": "inflammation_injury",
    "sudden flexion of the foot": "foot_pointed",
    "stress": "stress",
    "flat feet": "flat_feet",
    "obesity": "obesity",
    "inactivity": "sedentary",
    "statins": "statin",
    "niacin": "niacin",
    "heels over 5 cm": "high_heels",
    "caffeine": "caffeine",
    "tight clothes": "tight_clothes",
    "thyroid diseases": "thyroid",
    "neurological problems": "neuropathy",
    "epileptic syndrome (a mimic)": "blackout",
    "muscle weakness with cramps": "weakness_or_numbness",
}

STRENGTH_FROM_EVIDENCE: dict[str, str] = {
    "older_age": "established", "pregnancy": "established", "cirrhosis": "established",
    "kidney_failure": "established", "thiazide": "established",
    "potassium_sparing": "established", "laba": "established", "loop_diuretic": "weak",
    "statin": "weak", "nifedipine": "plausible", "niacin": "unsupported",
    "alcohol": "plausible", "sedentary": "plausible", "strenuous_exercise": "plausible",
    "long_sitting": "weak", "low_fluids": "unsupported", "diet_minerals": "unsupported",
    "cold_bedroom": "weak", "caffeine": "unsupported", "stress": "weak",
    "high_heels": "unsupported", "flat_feet": "unsupported", "varicose_veins": "plausible",
    "thyroid": "plausible", "diabetes": "plausible",
}


def test_rules_file_is_package_data_next_to_the_module() -> None:
    f = resources.files("detector.causes").joinpath("rules.toml")
    assert f.is_file()
    assert tomllib.loads(f.read_text(encoding="utf-8"))["meta"]["version"] == 1


def test_every_article_factor_is_rated() -> None:
    ids = {r.id for r in default_rules().rules}
    missing = {k: v for k, v in ARTICLE_FACTORS.items() if v not in ids}
    assert missing == {}


@pytest.mark.parametrize(("rule_id", "strength"), sorted(STRENGTH_FROM_EVIDENCE.items()))
def test_strengths_follow_the_evidence(rule_id: str, strength: str) -> None:
    assert default_rules().rule(rule_id).strength == strength


def test_kinds_levels_and_the_detector_red_flags() -> None:
    rules = default_rules()
    for r in rules.rules:
        assert (r.level is not None) == (r.kind == "red_flag"), r.id
        assert (r.strength is not None) == (r.kind == "factor"), r.id
        assert r.source and r.wording
    long = rules.rule("long_cramp")
    assert long.level == "urgent"
    assert long.condition == Compare(source="detector", field="longest_cramp_s", op=">",
                                     value=600)
    assert long.condition.value == LONG_CRAMP_S  # the report's episode-table mark agrees
    frequent = rules.rule("frequent").condition
    assert isinstance(frequent, Compare) and frequent.value == 3
    assert rules.rule("both_legs").level == "see_clinician"
    assert isinstance(rules.rule("child").condition, AllOf)
    assert isinstance(rules.rule("diet_minerals").condition, Reference)
    assert "not a diagnosis" in rules.not_a_diagnosis.lower()
    assert [e.id for e in rules.exposures][:2] == ["alcohol", "exercise"]


def test_loading_an_override_file(tmp_path: Path) -> None:
    text = default_rules_text().replace('op = ">", value = 600', 'op = ">", value = 300')
    path = tmp_path / "mine.toml"
    path.write_text(text, encoding="utf-8")
    rules = load_rules(path)
    cond = rules.rule("long_cramp").condition
    assert isinstance(cond, Compare) and cond.value == 300
    assert rules.origin == str(path)


MINIMAL = '''[meta]
version = 1
not_a_diagnosis = "This is not a diagnosis."
[[rule]]
id = "r"
kind = "factor"
strength = "weak"
name = "R"
condition = { diary = "alcohol_units", op = ">=", value = 1 }
source = "s"
wording = "Words."
advice = ""
'''


@pytest.mark.parametrize(("old", "new", "message"), [
    ('kind = "factor"', 'kind = "cause"', "kind: expected one of"),
    ('strength = "weak"', 'strength = "strong"', "strength: a factor needs a strength"),
    ('strength = "weak"', 'level = "urgent"', "level: only red flags have a level"),
    ('op = ">="', 'op = "=>"', "op: expected one of"),
    ('diary = "alcohol_units"', 'diary = "beer"', "unknown field 'beer'"),
    ('value = 1 }', 'value = "1" }', "needs a comparison with a number"),
    ('{ diary = "alcohol_units", op = ">=", value = 1 }', '{ medicine = "aspirin" }',
     "expected medicine classes"),
    ('{ diary = "alcohol_units", op = ">=", value = 1 }', '{ condition = "gout" }',
     "unknown condition 'gout'"),
    ('{ diary = "alcohol_units", op = ">=", value = 1 }', '{ colour = "red" }',
     "unknown condition form"),
    ('wording = "Words."', 'wording = "Words {nope}."', "unknown placeholder {nope}"),
    ('strength = "weak"', 'strength = "unsupported"', "evidence does not support"),
    ('version = 1', 'version = 2', "[meta].version: expected 1"),
    ('not_a_diagnosis = "This is not a diagnosis."', 'not_a_diagnosis = "Hello."',
     "must say that this is not a diagnosis"),
    ('advice = ""', 'advice = ""\nextra = 1', "unknown key 'extra'"),
    ('id = "r"', 'id = "R r"', "expected a lower-case identifier"),
    ('version = 1', 'version = 1\n[[rule', "not valid TOML"),
])
def test_bad_rules_are_one_line_errors(old: str, new: str, message: str) -> None:
    assert old in MINIMAL
    parse_rules(MINIMAL, origin="x.toml")  # the unchanged text is valid
    with pytest.raises(CrampInputError) as info:
        parse_rules(MINIMAL.replace(old, new, 1), origin="x.toml")
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith("x.toml")
    assert message in text


def test_duplicate_ids_and_missing_files(tmp_path: Path) -> None:
    twice = MINIMAL + MINIMAL[MINIMAL.index("[[rule]]"):]
    with pytest.raises(CrampInputError, match="used twice"):
        parse_rules(twice, origin="x.toml")
    with pytest.raises(CrampInputError, match="not found"):
        load_rules(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"\xff\xfe\x00junk")
    with pytest.raises(CrampInputError, match=r"bad\.toml"):
        load_rules(bad)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_parse_rules_fuzz_raises_only_input_errors(text: str) -> None:
    try:
        parse_rules(text, origin="fuzz.toml")
    except CrampInputError as exc:
        assert "\n" not in str(exc)


_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 1000) | st.floats(allow_nan=True)
    | st.text(max_size=12) | st.sampled_from(["alcohol_units", "age_years", ">=", "in",
                                                "thiazide", "cirrhosis", "hard"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["diary", "profile", "detector", "op", "value", "all", "any",
                         "medicine", "sign", "condition", "pattern", "always", "reference",
                         "min_evenings", "within_days"]), inner, max_size=4),
    max_leaves=10)


@settings(max_examples=200, deadline=None)
@given(_values)
def test_parse_condition_fuzz_raises_only_input_errors(raw: object) -> None:
    try:
        parse_condition(raw, "c")
    except CrampInputError as exc:
        assert "\n" not in str(exc)
