"""Cause rules: what may be behind the cramps, and when to see a clinician.

The evening diary (:mod:`~detector.causes.diary`) and the profile
(:mod:`~detector.causes.profile`) are combined with the stored episodes by the rules engine
(:mod:`~detector.causes.engine`), driven by the rules file ``rules.toml``
(:mod:`~detector.causes.rules`, its conditions :mod:`~detector.causes.conditions`).
:mod:`~detector.causes.association` compares cramp nights with diary factors across many
nights.
"""
