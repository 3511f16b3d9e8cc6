"""The one bounded thread-pool runner (``api.fetch`` and the mirror) and its progress bar.

Lowest layer: imports only ``tqdm`` and the standard library, so every package may use it.

>>> results, failures = run_jobs([("a", lambda: 1), ("b", lambda: 2)], max_workers=2)
>>> results == {"a": 1, "b": 2}, failures
(True, {})
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import Any, TypeVar

from tqdm.auto import tqdm

__all__ = ["progress_bar", "run_jobs"]

K = TypeVar("K", bound=Hashable)


def progress_bar(total: int, desc: str, unit: str, progress: bool | None) -> Any:
    """Return the tqdm bar of a pooled step (a disabled one where none should show).

    ``progress``: ``True`` always shows it, ``None`` lets ``tqdm.auto`` decide (notebooks
    and terminals, not logs or CI), ``False`` never; a step of fewer than two items never.
    """
    disable = True if progress is False or total < 2 else (None if progress is None else False)
    return tqdm(total=total, desc=desc, unit=unit, disable=disable, leave=False)


def run_jobs(
    jobs: Sequence[tuple[K, Callable[[], Any]]],
    max_workers: int,
    *,
    collect: tuple[type[BaseException], ...] = (),
    stop: threading.Event | None = None,
    bar: Any = None,
) -> tuple[dict[K, Any], dict[K, BaseException]]:
    """Run ``(key, fn)`` jobs on at most ``max_workers`` threads; return results and failures.

    Parameters
    ----------
    jobs : sequence of (key, callable)
        Each callable takes no argument; keys are unique.
    max_workers : int
        Thread bound (at least 1). One job, or ``max_workers == 1``, runs in the caller's
        thread, in order.
    collect : tuple of exception classes
        Errors recorded per key in ``failures`` while every other job still runs (the API
        errors of a multi-device fetch). Any other exception stops the run: queued jobs are
        cancelled, ``stop`` is set so running jobs can end early, and once the running ones
        have finished the first failing job's exception (in job order) is raised.
    stop : threading.Event, optional
        Set when the run stops on an error (or Ctrl-C); long jobs check it between steps.
    bar : tqdm, optional
        Advanced by one per finished job.

    Returns
    -------
    results : dict
        ``key -> return value`` of every job that finished without error.
    failures : dict
        ``key -> exception`` of the jobs that raised one of ``collect``.

    Raises
    ------
    BaseException
        The first (in job order) exception outside ``collect``.
    """
    results: dict[K, Any] = {}
    failures: dict[K, BaseException] = {}
    if len(jobs) < 2 or max_workers <= 1:
        for key, fn in jobs:
            try:
                results[key] = fn()
            except collect as exc:
                failures[key] = exc
            except BaseException:
                if stop is not None:
                    stop.set()
                raise
            if bar is not None:
                bar.update()
        return results, failures
    fatal: dict[K, BaseException] = {}
    with ThreadPoolExecutor(max_workers=min(max_workers, len(jobs))) as pool:
        futures: dict[Future[Any], K] = {pool.submit(fn): key for key, fn in jobs}
        try:
            for future in as_completed(futures):
                if future.cancelled():
                    continue
                key = futures[future]
                error = future.exception()
                if error is None:
                    results[key] = future.result()
                elif isinstance(error, collect):
                    failures[key] = error
                else:
                    fatal[key] = error
                    _halt(futures, stop)
                if bar is not None:
                    bar.update()
        except BaseException:  # Ctrl-C while waiting: do not start the queued jobs
            _halt(futures, stop)
            raise
    if fatal:
        raise next(fatal[key] for key, _ in jobs if key in fatal)
    return results, failures


def _halt(futures: dict[Future[Any], Any], stop: threading.Event | None) -> None:
    if stop is not None:
        stop.set()
    for f in futures:
        f.cancel()
