"""The whole pipeline for one recording: channel processors -> aligned evidence -> episodes.

``NightPipeline.push(role, block)`` accepts blocks of any size, from any channel, in any
interleaving; epochs are fused as soon as every channel has delivered them. Live recording and
offline replay both drive this one class.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from detector import __version__
from detector.config import DetectorConfig
from detector.episode import EpisodeEvent
from detector.errors import CrampInputError
from detector.pipeline.emg import EmgEpochs, EmgProcessor
from detector.pipeline.emg_step import StepEstimate
from detector.pipeline.episodes import EpisodeDetector
from detector.pipeline.features import combine_epochs
from detector.pipeline.in_bed import assumed_in_bed_periods, in_bed_periods
from detector.pipeline.motion import AccEpochs, AccProcessor, AnklePull, FilteredAcc
from detector.pipeline.night_window import NightWindow, resolve_timezone
from detector.pipeline.result import NightResult
from detector.pipeline.trace import TraceBuilder
from detector.signals import ChannelSpec, Gap, RecordingInfo, SignalBlock

if TYPE_CHECKING:  # the worker's module (threading, queue) loads only with a worker
    from detector.pipeline.worker import Job, Worker


def detection_mode(roles: set[str]) -> str:
    """Choose the detection mode from the channel roles present.

    Raises
    ------
    CrampInputError
        If neither EMG nor a shank accelerometer is present.
    """
    if "emg" in roles:
        return "emg+acc" if roles & {"shank_acc", "foot_acc"} else "emg"
    if "shank_acc" in roles:
        return "acc"
    raise CrampInputError(
        "channels", "need calf EMG or a shank accelerometer (found "
        f"{', '.join(sorted(roles)) or 'none'}); name them with --emg / --shank-acc")


BACKGROUND_MIN_S = 60.0
"""Blocks of a background channel this long or longer (s) are processed on the worker thread;
shorter ones (live recording) are processed at once, so live events are never delayed."""


class NightPipeline:
    """Stream processor for a whole recording.

    Parameters
    ----------
    channels : mapping of role to ChannelSpec
        The channels that will be pushed.
    config : DetectorConfig
        All thresholds.
    start_utc : datetime
        Recording start (aware).
    leg : str
        ``"left"``, ``"right"`` or ``"unknown"``.
    background : collection of str, optional
        Roles whose channel processor runs on one worker thread, beside the others and the
        fusion on the calling thread, for blocks of at least :data:`BACKGROUND_MIN_S` (replay:
        the compiled filter loop and numpy's reductions release the GIL, so two cores share
        the work). Each block of such a role is conditioned while the caller goes on; its
        epochs join the fusion when that role's next block arrives or at :meth:`flush` (an
        accelerometer's epoch sums are taken then, on the calling thread: only its filters
        run on the worker, which the EMG keeps busier). The
        epochs, episodes and result are the same as without it; only the call that returns
        an event can come one block later.
    """

    def __init__(self, channels: Mapping[str, ChannelSpec], *, config: DetectorConfig,
                 start_utc: datetime, leg: str = "unknown",
                 background: Collection[str] = ()) -> None:
        self.channels = dict(channels)
        self.config = config
        self.start_utc = start_utc
        self.leg = leg
        self.mode = detection_mode(set(self.channels))
        self.eps = round(1.0 / config.epoch_s)
        tz = resolve_timezone(config.in_bed.timezone)
        self.window = NightWindow(config.in_bed.night_window, tz=tz)
        self._procs: dict[str, EmgProcessor | AccProcessor] = {}
        for role, spec in self.channels.items():
            if role == "emg":
                self._procs[role] = EmgProcessor(fs=spec.fs, config=config.emg,
                                                 epochs_per_s=self.eps, rails_uv=spec.rails)
            else:
                # both sensors split their movement at the tremor edge: what lies above it is
                # the calf's vibration (evidence for contraction), not gross leg movement
                self._procs[role] = AccProcessor(
                    fs=spec.fs, epochs_per_s=self.eps,
                    tremor_highpass_hz=config.motion.tremor_highpass_hz,
                    tremor_lowpass_hz=config.motion.tremor_lowpass_hz)
        emg_spec = self.channels.get("emg")
        v = config.evidence
        # the relaxed level follows only a step coarser than relaxed_max_uv / relaxed_step_ratio
        self._emg_step = (StepEstimate(fs=emg_spec.fs, epochs_per_s=self.eps,
                                       enough_uv=v.relaxed_max_uv / v.relaxed_step_ratio)
                          if emg_spec is not None and v.relaxed_step_ratio > 0 else None)
        emg_proc = self._procs.get("emg")
        emg_band = emg_proc.band_hz if isinstance(emg_proc, EmgProcessor) else None
        shank_proc = self._procs.get("shank_acc")
        tremor_band = shank_proc.tremor_band_hz if isinstance(shank_proc, AccProcessor) \
            else None
        self.detector = EpisodeDetector(mode=self.mode, has_foot="foot_acc" in self.channels,
                                        config=config, start_utc=start_utc, leg=leg,
                                        night_window=self.window, emg_band_hz=emg_band,
                                        tremor_band_hz=tremor_band, emg_step=self._emg_step)
        self.trace = TraceBuilder(config=config)
        self._pull = AnklePull(lookback_epochs=round(config.motion.pull_lookback_s * self.eps),
                               min_sagittal_g=config.motion.pull_min_sagittal_g)
        unknown = set(background) - set(self.channels)
        if unknown:
            raise ValueError(f"background roles {sorted(unknown)} are not channels")
        self._background = frozenset(background)
        self._worker: Worker | None = None
        self._pending: dict[str, Job[list[EmgEpochs] | FilteredAcc]] = {}
        self._queues: dict[str, list[EmgEpochs | AccEpochs]] = {r: [] for r in self.channels}
        self._produced = dict.fromkeys(self.channels, 0)
        self._consumed = 0
        self._expected = dict.fromkeys(self.channels, 0)
        self.gaps: list[Gap] = []
        self._counts = {"epochs": 0, "emg_flat": 0, "emg_saturated": 0, "emg_hum": 0,
                        "emg_missing": 0, "acc_missing": 0, "moving": 0, "emg_motion": 0}

    def push(self, role: str, block: SignalBlock) -> list[EpisodeEvent]:
        """Feed one block of one channel; return episode events it completes.

        A block of a background role may still be read on the worker after this returns:
        the caller must not change ``block.data`` afterwards (the readers hand over a new
        array per block).
        """
        spec = self.channels.get(role)
        if spec is None:
            raise ValueError(f"channel {role!r} was not declared")
        if block.data.ndim != (1 if spec.width == 1 else 2):
            raise ValueError(f"{role}: block shape {block.data.shape} does not fit the channel")
        if block.start_sample > self._expected[role]:
            missing = block.start_sample - self._expected[role]
            self.gaps.append(Gap(role=role, start_s=self._expected[role] / spec.fs,
                                 end_s=block.start_sample / spec.fs, samples_missing=missing))
        self._expected[role] = max(self._expected[role], block.end_sample)
        self._settle(role)  # this role's previous block first: its epochs stay in order
        proc = self._procs[role]
        if role in self._background and block.n_samples >= BACKGROUND_MIN_S * spec.fs:
            if self._worker is None:
                from detector.pipeline.worker import Worker

                self._worker = Worker(name="cramp-pipeline_0")
            # an accelerometer's filters run there, its epoch sums here (see _settle)
            work = proc.condition if isinstance(proc, AccProcessor) else proc.push
            self._pending[role] = self._worker.submit(work, block)
        else:
            for ep in proc.push(block):
                self._queue(role, ep)
        # the step estimate only reads the block: beside the worker's filter, not before it
        if role == "emg" and self._emg_step is not None:
            _push_in_pieces(self._emg_step, block)
        return self._drain()

    def _settle(self, role: str) -> None:
        """Wait for the block of ``role`` on the worker, if any, and queue its epochs."""
        pending = self._pending.pop(role, None)
        if pending is not None:
            done = pending.result()  # an error on the worker is raised here
            proc = self._procs[role]
            if isinstance(done, FilteredAcc) and isinstance(proc, AccProcessor):
                done = proc.epochs(done)
            for ep in done:
                self._queue(role, ep)

    def flush(self, *, end_s: float | None = None) -> list[EpisodeEvent]:
        """End of the recording: emit what is left.

        Parameters
        ----------
        end_s : float, optional
            Nominal end of the recording (s); channels that stop early are reported as
            missing up to it.
        """
        for role in list(self._pending):
            self._settle(role)
        if self._worker is not None:
            self._worker.shutdown()
            self._worker = None
        for role, proc in self._procs.items():
            end_sample = None
            if end_s is not None:
                end_sample = math.floor(end_s * self.channels[role].fs + 1e-9)
                if end_sample > self._expected[role]:
                    fs = self.channels[role].fs
                    self.gaps.append(Gap(role=role, start_s=self._expected[role] / fs,
                                         end_s=end_sample / fs,
                                         samples_missing=end_sample - self._expected[role]))
            for ep in proc.flush(end_sample=end_sample):
                self._queue(role, ep)
        # channels that ended earlier than others are padded as missing
        target = max(self._produced.values(), default=0)
        for role in self.channels:
            short = target - self._produced[role]
            if short > 0:
                self._queue(role, _missing_like(self._queues_template(role),
                                                self._produced[role], short))
        events = self._drain()
        events.extend(self.detector.flush())
        return events

    def _queues_template(self, role: str) -> str:
        return "emg" if role == "emg" else "acc"

    def _queue(self, role: str, ep: EmgEpochs | AccEpochs) -> None:
        self._queues[role].append(ep)
        self._produced[role] += ep.envelope_uv.shape[0] if isinstance(ep, EmgEpochs) \
            else ep.movement_g.shape[0]

    def _take(self, role: str, n: int) -> dict[str, np.ndarray]:
        parts = self._queues[role]
        names = (("envelope_uv", "flat", "saturated", "hum", "missing") if role == "emg"
                 else ("gravity_g", "movement_g", "tremor_g"))
        joined = {k: np.concatenate([getattr(p, k) for p in parts]) for k in names}
        first = parts[0].first_epoch
        head = {k: v[:n] for k, v in joined.items()}
        rest = {k: v[n:] for k, v in joined.items()}
        if rest[names[1]].shape[0]:
            cls = EmgEpochs if role == "emg" else AccEpochs
            self._queues[role] = [cls(first + n, *(rest[k] for k in names))]
        else:
            self._queues[role] = []
        return head

    def _drain(self) -> list[EpisodeEvent]:
        n = min(self._produced.values()) - self._consumed
        if n <= 0:
            return []
        k0 = self._consumed
        parts = {role: self._take(role, n) for role in self.channels}
        emg = parts.get("emg")
        feats = combine_epochs(k0, n, emg=emg, shank=parts.get("shank_acc"),
                               foot=parts.get("foot_acc"), config=self.config, pull=self._pull)
        self._consumed += n
        events = self.detector.push(feats)
        self.trace.push(feats, self.detector.last_baseline, emg_present=emg is not None)
        c = self._counts
        c["epochs"] += n
        c["emg_flat"] += int(feats.emg_flat.sum())
        c["emg_saturated"] += int(feats.emg_saturated.sum())
        c["emg_hum"] += int(feats.emg_hum.sum())
        c["emg_missing"] += int(feats.emg_missing.sum()) if emg is not None else 0
        c["acc_missing"] += int(feats.acc_missing.sum())
        with np.errstate(invalid="ignore"):
            moving = feats.movement_g > self.config.motion.movement_g
        c["moving"] += int(moving.sum())
        c["emg_motion"] += int((moving & feats.emg_valid).sum())
        return events

    def quality(self) -> dict[str, Any]:
        """Signal-quality summary in seconds and fractions (JSON-ready)."""
        c = self._counts
        dt = 1.0 / self.eps
        total = c["epochs"] * dt
        q: dict[str, Any] = {"analysed_s": round(total, 1)}
        if "emg" in self.channels:
            usable = c["epochs"] - c["emg_flat"] - c["emg_saturated"] - c["emg_missing"]
            q["emg"] = {
                "coverage": round(1 - c["emg_missing"] / c["epochs"], 4) if c["epochs"] else 0.0,
                "usable_fraction": round(usable / c["epochs"], 4) if c["epochs"] else 0.0,
                "missing_s": round(c["emg_missing"] * dt, 1),
                "flat_s": round(c["emg_flat"] * dt, 1),
                "saturated_s": round(c["emg_saturated"] * dt, 1),
                "hum_s": round(c["emg_hum"] * dt, 1),
                # EMG recorded while the leg moved: motion artefact is likely there
                "motion_s": round(c["emg_motion"] * dt, 1),
            }
        if self.channels.keys() & {"shank_acc", "foot_acc"}:
            q["accelerometer"] = {
                "coverage": round(1 - c["acc_missing"] / c["epochs"], 4) if c["epochs"] else 0.0,
                "missing_s": round(c["acc_missing"] * dt, 1),
                "movement_s": round(c["moving"] * dt, 1),
            }
        if self.mode == "acc" and "foot_acc" not in self.channels:
            q["limitations"] = ["no foot accelerometer and no EMG: the ankle angle cannot be "
                                "measured, so no cramp can be confirmed"]
        q["gaps"] = len(self.gaps)
        q["gap_s"] = round(sum(g.duration_s for g in self.gaps), 3)
        return q

    def result(self, info: RecordingInfo) -> NightResult:
        """Assemble the :class:`NightResult` (call after :meth:`flush`)."""
        trace = self.trace.result()
        with np.errstate(invalid="ignore"):
            moving = np.where(np.isnan(trace.movement_g), np.nan,
                              (trace.movement_g > self.config.motion.movement_g) * 1.0)
        quality = self.quality()
        episodes = tuple(self.detector.episodes)
        if self.channels.keys() & {"shank_acc", "foot_acc"}:
            periods = in_bed_periods(trace.lying, moving, config=self.config.in_bed,
                                     start_utc=self.start_utc, window=self.window)
            quality["in_bed_basis"] = "posture and stillness, within the night window"
            # an episode is in bed exactly when its onset falls in an in-bed period
            episodes = tuple(
                dataclasses.replace(e, in_bed=any(a <= e.onset_s < b for a, b in periods))
                for e in episodes)
        else:
            periods = assumed_in_bed_periods(duration_s=info.duration_s,
                                             start_utc=self.start_utc, window=self.window)
            quality["in_bed_basis"] = ("night window only: no accelerometer, so posture is "
                                       "unknown and getting up cannot be seen")
        return NightResult(
            info=info, mode=self.mode, episodes=episodes,
            in_bed_periods=tuple(periods),
            gaps=tuple(sorted(self.gaps, key=lambda g: (g.start_s, g.role))),
            quality=quality,
            trace=trace, detector_version=__version__, parameters=self.config.to_dict(),
            set_aside=tuple(self.detector.withdrawn),
        )


STEP_FIRST_SAMPLES = 1024
"""The EMG step estimate takes a block in pieces, the first this long (samples), each next one
four times longer. Once the estimate is fine enough it ignores what follows, which it most
often is within its first samples: then the rest of a replay's first chunk (15 minutes at
1 kHz, about 20 ms of vector passes) is not scanned for nothing. Its marks are the same in
any pieces (see :mod:`detector.pipeline.emg_step`)."""


def _push_in_pieces(step: StepEstimate, block: SignalBlock) -> None:
    """Feed ``block`` (EMG, uV) to ``step`` in pieces growing from :data:`STEP_FIRST_SAMPLES`."""
    x = block.data
    lo, size = 0, STEP_FIRST_SAMPLES
    while lo < x.shape[0]:
        hi = min(x.shape[0], lo + size)
        step.push(x[lo:hi], start_sample=block.start_sample + lo)
        lo, size = hi, 4 * size


def _missing_like(kind: str, first: int, n: int) -> EmgEpochs | AccEpochs:
    nan = np.full(n, np.nan)
    if kind == "emg":
        false = np.zeros(n, dtype=bool)
        return EmgEpochs(first, nan, false, false, false, np.ones(n, dtype=bool))
    return AccEpochs(first, np.full((n, 3), np.nan), nan, nan.copy())
