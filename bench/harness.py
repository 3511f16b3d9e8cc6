"""Shared helpers for benchmarks: timing, peak memory, and the result record."""

from __future__ import annotations

import gc
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any


def best_time(fn: Callable[[], Any], repeat: int = 3) -> float:
    """Best wall time of ``repeat`` calls of ``fn`` (seconds)."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_isolated(code: str, timeout: float = 1800) -> dict:
    """Run ``code`` in a fresh Python process; it must print one JSON object last.

    Used to measure peak RSS of one step without the parent's memory.
    """
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONHASHSEED": "0"},
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def result(
    name: str,
    *,
    ratio: float,
    target: str,
    size: str,
    **figures: Any,
) -> dict:
    """Build one benchmark record.

    ``target`` is a comparison such as ``">= 5"`` or ``"<= 2"``; ``met`` is evaluated here.
    """
    op, _, bound = target.partition(" ")
    bound_f = float(bound)
    met = {
        ">=": ratio >= bound_f,
        "<=": ratio <= bound_f,
        ">": ratio > bound_f,
        "<": ratio < bound_f,
    }[op]
    return {
        "name": name,
        "ratio": round(float(ratio), 3),
        "target": target,
        "met": bool(met),
        "size": size,
        **figures,
    }
