"""The one bounded thread-pool runner shared by the fetch functions and the mirror."""

from __future__ import annotations

import threading

import pytest

from waltero_frames._concurrency import progress_bar, run_jobs
from waltero_frames.errors import NotFound


class Gauge:
    """Counts jobs running at once (the largest count seen is the bound in force)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = self.peak = 0
        self.ran: list[int] = []

    def job(self, k: int, release: threading.Event, fail: BaseException | None = None):
        def fn():
            with self.lock:
                self.now += 1
                self.peak = max(self.peak, self.now)
                self.ran.append(k)
            release.wait(5)
            with self.lock:
                self.now -= 1
            if fail is not None:
                raise fail
            return k * 10

        return fn


def test_results_and_collected_errors_every_job_runs():
    gauge, go = Gauge(), threading.Event()
    go.set()
    jobs = [(k, gauge.job(k, go, NotFound("gone") if k % 3 == 0 else None)) for k in range(9)]
    results, failures = run_jobs(jobs, 4, collect=(NotFound,))
    assert results == {k: k * 10 for k in range(9) if k % 3}
    assert sorted(failures) == [0, 3, 6] and all(isinstance(e, NotFound) for e in failures.values())
    assert sorted(gauge.ran) == list(range(9))


def test_worker_bound_holds():
    gauge, go = Gauge(), threading.Event()
    jobs = [(k, gauge.job(k, go)) for k in range(12)]
    done = {}
    runner = threading.Thread(target=lambda: done.update(out=run_jobs(jobs, 3)))
    runner.start()
    while True:  # wait until the pool is full, then let everything finish
        with gauge.lock:
            if gauge.now == 3:
                break
        go.wait(0.001)
    go.set()
    runner.join(10)
    assert gauge.peak == 3
    assert done["out"][0] == {k: k * 10 for k in range(12)}


def test_a_bug_cancels_the_queued_jobs_sets_stop_and_raises_the_first_in_job_order():
    gauge, go, stop = Gauge(), threading.Event(), threading.Event()
    jobs = [(k, gauge.job(k, go, ValueError(f"bug {k}") if k < 2 else None)) for k in range(10)]
    go.set()
    with pytest.raises(ValueError, match="bug 0"):
        run_jobs(jobs, 2, collect=(NotFound,), stop=stop)
    assert stop.is_set()
    assert len(gauge.ran) < 10  # queued jobs never started


def test_sequential_path_and_progress_counts():
    stop = threading.Event()
    assert progress_bar(3, "x", "req", False).disable is True
    with progress_bar(3, "x", "req", True) as bar:
        results, failures = run_jobs([(k, lambda k=k: k) for k in range(3)], 1, bar=bar)
        assert bar.n == 3
    assert results == {0: 0, 1: 1, 2: 2} and failures == {}
    with pytest.raises(KeyError):
        run_jobs([("a", lambda: {}["missing"]), ("b", lambda: 1)], 1, stop=stop)
    assert stop.is_set()
    assert progress_bar(5, "x", "req", True).disable is False
    assert progress_bar(1, "x", "req", True).disable is True
