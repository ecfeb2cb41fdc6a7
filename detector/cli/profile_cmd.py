"""``cramp profile``: age, pregnancy and known conditions for the cause rules."""

from __future__ import annotations

import argparse
import json
import sys

from detector.causes.profile import (
    CONDITIONS,
    Profile,
    load_profile,
    profile_from_fields,
    save_profile,
)
from detector.cli.store_options import add_store_choice, db_path_from_args
from detector.errors import CrampInputError
from detector.store import connect

_QUESTIONS: tuple[tuple[str, str], ...] = (
    ("age_years", "Age in years"),
    ("pregnant", "Pregnant (yes/no)"),
    ("conditions", f"Known conditions ({', '.join(CONDITIONS)}; comma-separated, or none)"),
)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``profile`` subcommand."""
    p = sub.add_parser("profile", help="show or set age, pregnancy and known conditions",
                       description="Without options, show the stored profile (on a terminal "
                                   "with --interactive, ask for each value).")
    add_store_choice(p, default="personal")
    p.add_argument("--age", dest="age_years", metavar="YEARS", help="age in whole years")
    p.add_argument("--pregnant", metavar="yes|no", help="pregnant now")
    p.add_argument("--conditions", metavar="LIST",
                   help=f"known conditions, replacing those stored: {', '.join(CONDITIONS)} "
                        "(comma-separated; 'none' clears them)")
    p.add_argument("--interactive", action="store_true", help="ask for each value")
    p.add_argument("--json", action="store_true", help="print the profile as JSON")
    p.set_defaults(func=run)


_OPTION_OF = {"age_years": "--age", "pregnant": "--pregnant", "conditions": "--conditions"}


def _ask(field: str, question: str) -> str | None:
    while True:
        try:
            answer = input(f"{question}: ").strip()
        except EOFError:
            raise CrampInputError("profile", "input ended; nothing was saved") from None
        if not answer:
            return None
        try:
            profile_from_fields({field: answer})
        except CrampInputError as exc:
            print(f"  {exc.problem}; try again or press Enter to keep it", file=sys.stderr)
            continue
        return answer


def describe(profile: Profile) -> str:
    """The profile in plain words, one item per line."""
    age = "not given" if profile.age_years is None else f"{profile.age_years} years"
    preg = {None: "not given", True: "yes", False: "no"}[profile.pregnant]
    conds = ", ".join(CONDITIONS[c] for c in profile.conditions) or "none given"
    return f"Age: {age}\nPregnant: {preg}\nKnown conditions: {conds}\n"


def run(args: argparse.Namespace) -> int:
    """Update and/or show the profile; return 0."""
    values = {k: getattr(args, k) for k in ("age_years", "pregnant", "conditions")
              if getattr(args, k) is not None}
    if args.interactive:
        for field, question in _QUESTIONS:
            if field not in values:
                answer = _ask(field, question)
                if answer is not None:
                    values[field] = answer
    conn = connect(db_path_from_args(args))
    try:
        if values:
            try:
                changes = profile_from_fields(values, where="profile")
            except CrampInputError as exc:  # name the option, not the stored field
                option = _OPTION_OF.get(exc.where.rsplit(".", 1)[-1])
                if option is None:
                    raise
                raise CrampInputError(option, exc.problem) from None
            clear = "conditions" in values and not changes.conditions
            profile = save_profile(conn, changes, clear_conditions=clear)
        else:
            profile = load_profile(conn)
    finally:
        conn.close()
    if args.json:
        print(json.dumps(profile.to_dict(), indent=2))
    else:
        sys.stdout.write(describe(profile))
    return 0
