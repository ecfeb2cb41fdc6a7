"""Bluetooth LE: find bands (:mod:`~detector.ble.scan`) and record a night from one
(:mod:`~detector.ble.session`), with live output (:mod:`~detector.ble.live`).

Nothing here imports the simulator: a simulated band over an in-process link (for demos and
tests) lives in :mod:`firmware_sim.stepped_band` and is plugged in from outside, through the
session's injectable timebase and bleak's ``backend=``."""
