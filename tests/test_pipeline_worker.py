"""The pipeline's worker thread (detector.pipeline.worker): calls run in order on one thread,
results and errors come back through their job, and the thread ends at shutdown or when the
worker is dropped."""

from __future__ import annotations

import gc
import subprocess
import sys
import threading

import pytest

from detector.pipeline.worker import Worker


def test_calls_run_in_order_on_the_worker_thread() -> None:
    worker = Worker(name="cramp-test-worker")
    seen: list[tuple[int, str]] = []
    gate = threading.Event()

    def call(i: int) -> int:
        if i == 0:
            gate.wait(10.0)  # the later calls are queued behind this one meanwhile
        seen.append((i, threading.current_thread().name))
        return i * i

    jobs = [worker.submit(call, i) for i in range(5)]
    assert seen == []  # positive control of the gate: nothing ran yet
    gate.set()
    assert [j.result() for j in jobs] == [0, 1, 4, 9, 16]
    assert seen == [(i, "cramp-test-worker") for i in range(5)]
    worker.shutdown()
    assert not worker._thread.is_alive()


def test_an_error_is_raised_by_result_and_later_calls_still_run() -> None:
    worker = Worker(name="cramp-test-worker")

    def fail() -> None:
        raise ValueError("bad block")

    failed = worker.submit(fail)
    after = worker.submit(lambda: "ran")
    with pytest.raises(ValueError, match="bad block"):
        failed.result()
    assert after.result() == "ran"
    worker.shutdown()


def test_shutdown_lets_queued_calls_finish() -> None:
    worker = Worker(name="cramp-test-worker")
    done: list[int] = []
    jobs = [worker.submit(done.append, i) for i in range(50)]
    worker.shutdown()
    assert done == list(range(50))
    assert all(j.result() is None for j in jobs)


def test_a_dropped_worker_ends_its_thread() -> None:
    worker = Worker(name="cramp-test-dropped")
    thread = worker._thread
    assert worker.submit(lambda: 1).result() == 1
    assert thread.is_alive()  # positive control: alive while the worker is referenced
    del worker
    gc.collect()
    thread.join(10.0)
    assert not thread.is_alive()


def test_it_imports_no_concurrent_futures_or_logging() -> None:
    code = ("import sys\n"
            "from detector.pipeline.worker import Worker\n"
            "w = Worker(name='w'); print(w.submit(sum, [1, 2]).result()); w.shutdown()\n"
            "print([m for m in ('concurrent.futures', 'logging', 'threading')\n"
            "       if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout.split()
    assert out == ["3", "['threading']"]  # threading is seen: the check sees imports
