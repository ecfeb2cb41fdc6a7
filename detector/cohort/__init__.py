"""Cohorts at scale: many nights replayed, tuned, simulated and exported on Dask distributed.

- :mod:`~detector.cohort.night_task` -- the one adapter from a night to the replay result,
  and the hashes that key results (content and parameter set);
- :mod:`~detector.cohort.engine` -- a Dask client (a ``LocalCluster`` by default, or an
  existing scheduler) and an unordered, bounded map of tasks over it;
- :mod:`~detector.cohort.results` -- per-night result files and the hash cache;
- :mod:`~detector.cohort.batch` and :mod:`~detector.cohort.tables` -- ``cramp batch``;
- :mod:`~detector.cohort.search` and :mod:`~detector.cohort.tune` -- ``cramp tune``;
- :mod:`~detector.cohort.simulate` -- ``cramp simulate --nights``;
- :mod:`~detector.cohort.bids` -- BIDS-EMG export of a cohort and its structural check.

Dask and pyarrow are imported inside functions, so the rest of the ``cramp`` command starts
without them.
"""
