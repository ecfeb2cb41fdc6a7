"""``cramp causes``: possible contributing factors, advice and red flags for stored nights."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from detector.cli.argtypes import SEED
from detector.cli.store_options import (
    add_store_choice,
    connect_for_reading,
    db_path_from_args,
    one_night_per_recording,
)
from detector.errors import CrampInputError
from detector.safe_files import check_input_file
from detector.store.guard import damaged_store_errors

if TYPE_CHECKING:  # the rules engine (numpy, scipy.stats on use) loads when the command runs
    from detector.causes.rules import RuleSet

DEFAULT_LAST = 14


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``causes`` subcommand."""
    p = sub.add_parser(
        "causes", help="what may be behind the cramps, and when to see a clinician",
        description="Combine stored episodes with the evening diary and the profile: red "
                    "flags first, then factors rated by the strength of the evidence, what "
                    "goes with your cramp nights, and advice. Not a diagnosis.")
    add_store_choice(p, default="personal")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--night", metavar="YYYY-MM-DD", help="one night (the evening's date)")
    which.add_argument("--last", metavar="N", type=int,
                       help=f"the N days of nights up to the newest stored night "
                            f"(default {DEFAULT_LAST})")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--rules-file", metavar="TOML", type=Path,
                   help="use another rules file (checked like the shipped one)")
    p.add_argument("--tz", metavar="ZONE", help="IANA time zone for clock times")
    p.add_argument("--list-rules", action="store_true",
                   help="list every rule with its evidence strength and source, and exit")
    p.add_argument("--plan-stretching", action="store_true",
                   help="print an alternating-weeks bedtime stretching plan and exit")
    p.add_argument("--start", metavar="YYYY-MM-DD", help="first evening of the plan")
    p.add_argument("--weeks", metavar="N", type=int, default=6,
                   help="weeks in the plan (even, 4-16; default 6)")
    p.add_argument("--seed", metavar="N", type=SEED,
                   help="seed for the order of the weeks (default: random)")
    p.set_defaults(func=run)


def _list_rules(rules: RuleSet, as_json: bool) -> str:
    from detector.causes.render import LEVEL_WORDS, STRENGTH_WORDS, VERDICT_WORDS

    if as_json:
        return json.dumps({"not_a_diagnosis": rules.not_a_diagnosis, "rules": [
            {"id": r.id, "kind": r.kind, "level": r.level, "strength": r.strength,
             "name": r.name, "source": r.source, "wording": r.wording, "advice": r.advice}
            for r in rules.rules], "claims": [
            {"id": c.id, "name": c.name, "claim": c.claim, "verdict": c.verdict,
             "verdict_words": VERDICT_WORDS[c.verdict], "evidence": c.evidence,
             "source": c.source} for c in rules.claims]}, indent=2) + "\n"
    lines = []
    for r in rules.rules:
        rating = (LEVEL_WORDS[r.level] if r.level else STRENGTH_WORDS[r.strength]
                  if r.strength else "advice")
        lines.append(f"{r.id} [{rating}] {r.name}")
        lines += textwrap.wrap(f"{r.wording} {r.advice}".strip(), width=78,
                               initial_indent="    ", subsequent_indent="    ",
                               break_on_hyphens=False)
        lines.append(f"    Source: {r.source}")
    if rules.claims:
        lines += ["", "What the seed article claims, and what the evidence shows:", ""]
    for c in rules.claims:
        lines.append(f"{c.id} [{VERDICT_WORDS[c.verdict]}] {c.name}")
        lines += textwrap.wrap(f"Claim: {c.claim} Evidence: {c.evidence}", width=78,
                               initial_indent="    ", subsequent_indent="    ",
                               break_on_hyphens=False)
        lines.append(f"    Source: {c.source}")
    lines += textwrap.wrap(rules.not_a_diagnosis, width=78)
    return "\n".join(lines) + "\n"


def _plan(args: argparse.Namespace, as_json: bool) -> str:
    import numpy as np

    from detector.causes.association import stretching_plan
    from detector.cli.diary_cmd import this_evening
    from detector.store import parse_night_date

    start = parse_night_date(args.start, where="--start") if args.start else this_evening()
    rng = np.random.default_rng(args.seed)
    weeks = stretching_plan(start, weeks=args.weeks, rng=rng)
    if as_json:
        return json.dumps([{"start": w.start.isoformat(), "end": w.end.isoformat(),
                            "stretch": w.stretch} for w in weeks], indent=2) + "\n"
    lines = ["Bedtime stretching plan: alternate weeks, and record each evening in the diary "
             "(`cramp diary add --stretched yes|no`).", ""]
    for w in weeks:
        what = "stretch calves and hamstrings for about 3 minutes at bedtime" if w.stretch \
            else "no bedtime stretching"
        lines.append(f"  {w.start.isoformat()} to {w.end.isoformat()}: {what}")
    lines += ["", "After the plan, `cramp causes` compares the two kinds of week. Keep any "
              "treatment a clinician has advised as it is."]
    return "\n".join(lines) + "\n"


def _entries(n: int) -> str:
    return f"{n} diary {'entry' if n == 1 else 'entries'}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def run(args: argparse.Namespace) -> int:
    """Print the findings; return 0."""
    from detector.causes.engine import evaluate_store
    from detector.causes.render import findings_text
    from detector.causes.rules import default_rules, load_rules
    from detector.store import night_dates, parse_night_date, resolve_zone, stored_zone

    if args.rules_file:
        check_input_file(args.rules_file, what="rules file")
    rules = load_rules(args.rules_file) if args.rules_file else default_rules()
    if args.list_rules:
        sys.stdout.write(_list_rules(rules, args.json))
        return 0
    if args.plan_stretching:
        sys.stdout.write(_plan(args, args.json))
        return 0
    if args.last is not None and not 1 <= args.last <= 100_000:
        raise CrampInputError("--last", f"expected a number of nights from 1 to 100000, got "
                                        f"{args.last}")
    conn = connect_for_reading(args)
    try:
        with damaged_store_errors(db_path_from_args(args)):
            stored = night_dates(conn)
            if args.night is not None:
                d = parse_night_date(args.night)
                if d not in stored:
                    raise CrampInputError("--night", f"no night dated {d.isoformat()} in the store "
                                                     f"(latest: {stored[-1].isoformat()})")
                dates = [d]
            else:
                n = args.last if args.last is not None else DEFAULT_LAST
                dates = [stored[-1] - timedelta(days=n - 1), stored[-1]]
            zone = args.tz if args.tz is not None else stored_zone(conn, [d for d in stored
                                                                          if d <= max(dates)])
            report = evaluate_store(conn, dates, rules=rules,
                                    local=resolve_zone(zone, where="--tz"),
                                    one_per_recording=one_night_per_recording(args))
    finally:
        conn.close()
    if args.json:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
        return 0
    span = (report.first.isoformat() if report.first == report.last
            else f"{report.first.isoformat()} to {report.last.isoformat()}")
    dates = (f" (on {_count(report.n_dates, 'date')})" if report.n_dates != report.n_nights
             else "")
    sys.stdout.write(f"Nights {span}: {report.n_nights} recorded{dates}, "
                     f"{report.n_cramp_nights} with cramps, "
                     f"{_entries(report.n_diary_entries)}.\n\n")
    sys.stdout.write(findings_text(report))
    return 0
