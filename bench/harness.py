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


def interleaved(rounds: int, **steps: tuple[Callable[[], Any], int]) -> dict[str, float]:
    """Best wall time of each step over ``rounds`` interleaved rounds (seconds).

    ``steps`` maps a name to ``(fn, repeat)``; each round times every step once (best of
    ``repeat`` calls), so ours, the naive way and the floor all see the same machine load.
    """
    best = dict.fromkeys(steps, float("inf"))
    for _ in range(rounds):
        for name, (fn, repeat) in steps.items():
            best[name] = min(best[name], best_time(fn, repeat))
    return best


def versus(name: str, *, target: str, size: str, ours: float, naive: float, **figures: Any) -> dict:
    """A record "ours vs the naive way": ratio naive / ours, both times in the figures.

    A ``floor_s`` figure also gives ``ours_over_floor``.
    """
    if "floor_s" in figures:
        figures["ours_over_floor"] = round(ours / figures["floor_s"], 1)
        figures["floor_s"] = round(figures["floor_s"], 3)
    return result(
        name,
        ratio=naive / ours,
        target=target,
        size=size,
        ours_s=round(ours, 3),
        per_device_s=round(naive, 3),
        **figures,
    )


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


RSS_PROBE = """
import ctypes, gc, json
{imports}

def rss(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024
gc.collect()
ctypes.CDLL("libc.so.6").malloc_trim(0)
base = rss("VmRSS:")
{setup}
gc.collect()
ctypes.CDLL("libc.so.6").malloc_trim(0)  # freed generation temporaries leave the RSS
before = rss("VmRSS:")
open("/proc/self/clear_refs", "w").write("5")
{step}
peak = rss("VmHWM:")
print(json.dumps({{"base": base, "input_mb": before - base, "peak_mb": peak - base,
                  "deep_mb": frame.memory_usage(deep=True).sum() / 2**20}}))
"""


def rss_probe(imports: str, setup: str, step: str) -> dict:
    """Peak RSS of one step in a fresh process, *including* its input ``frame``.

    ``setup`` (top-level code) builds the input ``frame``; ``step`` runs the measured
    call. Returns MiB figures: ``input_mb`` (RSS growth while building the input),
    ``peak_mb`` (the peak above the bare interpreter) and ``deep_mb`` (pandas' count).
    """
    return run_isolated(RSS_PROBE.format(imports=imports, setup=setup, step=step))


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
