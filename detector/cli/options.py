"""Options shared by the subcommands that read recordings (replay, eval, ...)."""

from __future__ import annotations

import argparse
from datetime import datetime

from detector.config import DetectorConfig, load_config, parse_night_window
from detector.errors import CrampInputError
from detector.io.channels import ChannelMap, parse_axes


def add_recording_options(parser: argparse.ArgumentParser) -> None:
    """Add config, night-window, leg and channel-mapping options to ``parser``."""
    g = parser.add_argument_group("detector settings")
    g.add_argument("--config", metavar="TOML", help="detector thresholds (TOML) over defaults")
    win = g.add_mutually_exclusive_group()
    win.add_argument("--night-window", metavar="HH:MM-HH:MM",
                     help="local hours when the sleeper is in bed (default 20:00-10:00)")
    win.add_argument("--no-night-window", action="store_true",
                     help="treat every hour as possible bed time")
    g.add_argument("--tz", metavar="ZONE",
                   help="IANA time zone for the night window and local times (default: this "
                        "machine's)")
    g.add_argument("--leg", choices=("left", "right"), help="leg the band was on")
    c = parser.add_argument_group("channels (auto-detected from labels when not given)")
    c.add_argument("--emg", metavar="LABEL", help="label of the calf EMG signal")
    c.add_argument("--shank-acc", metavar="X,Y,Z",
                   help="labels of the shank accelerometer axes (prefix '-' to flip an axis)")
    c.add_argument("--foot-acc", metavar="X,Y,Z", help="labels of the foot accelerometer axes")
    c.add_argument("--emg-unit", metavar="UNIT", help="EMG unit if the file has none (uV, mV, V)")
    c.add_argument("--acc-unit", metavar="UNIT",
                   help="accelerometer unit if the file has none (g, mg, m/s2)")
    c.add_argument("--fs", type=float, metavar="HZ",
                   help="sampling rate of a CSV table without a time column")
    c.add_argument("--time-unit", choices=("s", "ms"), help="unit of a CSV 'time' column")
    c.add_argument("--start", metavar="ISO-TIME",
                   help="recording start with its zone, e.g. 2026-03-01T22:00:00+01:00")


def config_from_args(args: argparse.Namespace) -> DetectorConfig:
    """The detector configuration the options ask for."""
    config = load_config(args.config) if args.config else DetectorConfig()
    in_bed: dict[str, object] = {}
    if args.no_night_window:
        in_bed["night_window"] = None
    elif args.night_window:
        parse_night_window(args.night_window, where="--night-window")
        in_bed["night_window"] = args.night_window
    if args.tz:
        in_bed["timezone"] = args.tz
    if in_bed:
        config = config.replace(**{f"in_bed__{k}": v for k, v in in_bed.items()})
    return config


def channel_map_from_args(args: argparse.Namespace) -> ChannelMap:
    """The channel mapping the options ask for."""
    start = None
    if args.start:
        try:
            start = datetime.fromisoformat(args.start)
        except ValueError:
            raise CrampInputError("--start", f"expected an ISO 8601 time, got {args.start!r}")\
                from None
        if start.tzinfo is None:
            raise CrampInputError("--start", f"expected a time with its zone, e.g. "
                                             f"{args.start}+01:00 or {args.start}Z")
    return ChannelMap(
        emg=args.emg,
        shank_acc=parse_axes(args.shank_acc, option="--shank-acc") if args.shank_acc else None,
        foot_acc=parse_axes(args.foot_acc, option="--foot-acc") if args.foot_acc else None,
        emg_unit=args.emg_unit, acc_unit=args.acc_unit, fs=args.fs, start_utc=start,
    )
