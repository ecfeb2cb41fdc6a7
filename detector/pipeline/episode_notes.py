"""The quality notes an episode carries: what limits how far its figures can be trusted.

A pure function of the run's evidence and of what followed its end; the episode detector
(:mod:`detector.pipeline.episodes`) attaches the result to each :class:`~detector.episode.Episode`.
"""

from __future__ import annotations

from detector.pipeline.evidence import RunEvidence


def quality_notes(ev: RunEvidence, *, after_end: str, mode: str, uses_emg: bool,
                  has_foot: bool) -> tuple[str, ...]:
    """Plain-language notes on an episode's data quality and context.

    Parameters
    ----------
    ev : RunEvidence
        The evidence measured over the episode.
    after_end : str
        What follows its end: ``"missing"`` (a data gap), ``"data"`` or ``"end"``.
    mode : str
        The detection mode (``emg+acc``, ``emg`` or ``acc``).
    uses_emg : bool
        Whether the mode's rule judges EMG (else the accelerometers' data is what counts).
    has_foot : bool
        Whether a foot accelerometer was worn (the ankle angle can then be measured).

    Returns
    -------
    tuple of str
        The notes, in a fixed order.
    """
    notes: list[str] = []
    if ev.hum_fraction > 0.3:
        notes.append("mains hum during the episode")
    if ev.valid_fraction < 0.9:
        notes.append("EMG partly unusable during the episode" if uses_emg
                     else "accelerometer partly missing during the episode")
    if after_end == "missing":
        notes.append("ended at a data gap: true end unknown")
    lying = ev.lying_fraction
    if lying is None and mode == "emg":
        notes.append("posture unknown (no accelerometer)")
    if lying is not None and lying < 0.5:
        notes.append("upright (sitting or standing): out of bed")
    if has_foot and ev.plantar_flexion_deg is None:
        notes.append("ankle angle not observable (lying on a side)"
                     + ("" if uses_emg else ": calf tremor only"))
    return tuple(notes)
