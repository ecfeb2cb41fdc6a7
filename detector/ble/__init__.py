"""Bluetooth LE: find bands (:mod:`~detector.ble.scan`) and record a night from one
(:mod:`~detector.ble.session`), with live output (:mod:`~detector.ble.live`) and a simulated
band over an in-process link for demos and tests (:mod:`~detector.ble.simulated`)."""
