"""Step 3 of a sync, the telemetry backfill: planning and fetching its windows.

``plan_windows`` says which windows to fetch; ``fetch_windows`` fetches them, concurrently across
devices and in order within one.

Per device, windows of at most 31 days: backwards from the held coverage down to the
synced range's start, and forwards from the device's certified frontier to its end. A
window's readings, the coverage it adds and its ``windows`` row commit together (see
``docs/mirror.md`` for the certified frontier, the Part 1 probe and the top-up pass).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import partial
from typing import Any

import pandas as pd

from .._concurrency import progress_bar, run_jobs
from ..api import fetch
from ..api.paging import MAX_WINDOW, split_range
from ..columns import ALL_DEVICE_COLUMNS
from ..errors import BadRequest
from .db import from_ms, instant_ms
from .layout import to_long
from .store import Store

__all__ = ["WINDOW_MS", "Plan", "fetch_windows", "plan_windows"]

#: The API refuses telemetry ranges over 31 days.
WINDOW_MS = int(MAX_WINDOW / pd.Timedelta(milliseconds=1))


class _ServerClock:
    """A lower bound of the server's clock: every reading time and ``changedAt`` seen.

    A reading exists on the server once its time has passed, so a window fetched after
    the server's clock is known to have passed ``t`` holds every reading up to ``t``.
    """

    def __init__(self, store: Store, org: int) -> None:
        self._lock = threading.Lock()
        self._now = store.server_clock_floor(org)

    def now(self) -> int | None:
        with self._lock:
            return self._now

    def saw(self, t: int | None) -> None:
        if t is None:
            return
        with self._lock:
            self._now = t if self._now is None else max(self._now, t)


def _windows(lo: int, hi: int, *, backwards: bool = False) -> list[tuple[int, int]]:
    """Cut ``[lo, hi)`` (epoch ms) into windows of at most 31 days, in fetch order.

    The windows before a coverage are fetched from the coverage backwards, so each one touches
    what is already held.
    """
    if hi <= lo:
        return []
    out = [(instant_ms(a), instant_ms(b)) for a, b in split_range(from_ms(lo), from_ms(hi))]
    return out[::-1] if backwards else out


@dataclass(frozen=True)
class Plan:
    """The windows of one sync's backfill.

    Attributes
    ----------
    devices : pandas.DataFrame
        The stored devices that report any field (index ``device_id``).
    back : dict
        ``device_id -> [(lo, hi), ...]``: windows before the coverage, in fetch order.
    ahead : dict
        ``device_id -> frontier``: devices to fetch forwards from their frontier.
    todo : list of str
        Devices with any window to fetch.
    """

    devices: pd.DataFrame
    back: dict[str, list[tuple[int, int]]]
    ahead: dict[str, int]
    todo: list[str]


def plan_windows(
    store: Store,
    client: Any,
    org: str,
    org_code: int,
    devices: pd.DataFrame,
    start_ms: int,
    end_ms: int,
    *,
    probe: bool,
) -> Plan:
    """Plan the backfill of ``[start_ms, end_ms)``: coverage rows, windows, the probe.

    Devices without a coverage get an empty one at ``start_ms``. With ``probe``, one Part 1
    request per frontier shared by several devices drops the devices without any new
    meter reading (their frontier does not move this time).
    """
    for code in devices["device"][devices["cov_start"].isna()]:
        store.ensure_coverage(org_code, int(code), start_ms)
    devices = store.devices(org_code).loc[devices.index]
    devices = devices[[bool(f) for f in devices["fields"]]]
    ids: list[str] = devices.index.tolist()
    cov_start = dict(zip(ids, devices["cov_start"].astype("int64").tolist(), strict=True))
    cov_end = dict(zip(ids, devices["cov_end"].astype("int64").tolist(), strict=True))
    back = {d: _windows(start_ms, cov_start[d], backwards=True) for d in ids}
    # Forward fetches start where each device is known complete (see docs/mirror.md).
    ahead = {d: cov_end[d] for d in ids if cov_end[d] < end_ms}
    synced = [d for d in ahead if cov_end[d] > cov_start[d]]
    if probe and synced:
        # Part 1 requests (resolution=year) tell which devices have any meter reading in
        # a range: one per distinct frontier shared by several devices (a sync leaves
        # one frontier for all, see the top-up below), so no held reading is in range.
        groups: dict[int, list[str]] = {}
        for d in synced:
            groups.setdefault(ahead[d], []).append(d)
        for lo, members in groups.items():
            if len(members) < 2:
                continue
            try:
                daily = fetch.daily_consumption(
                    client, org, from_ms(lo), from_ms(end_ms), resolution="year"
                )
            except BadRequest:
                continue  # e.g. a range the server finds too long: fetch them all
            with_news = set(daily["device_id"].astype(str))
            for d in members:
                if d not in with_news:
                    del ahead[d]
    todo = [d for d in ids if back[d] or d in ahead]
    return Plan(devices, back, ahead, todo)


def fetch_windows(
    store: Store,
    client: Any,
    org_code: int,
    plan: Plan,
    end_ms: int,
    run: int,
    max_workers: int | None,
    totals: dict[str, int],
) -> None:
    """Fetch and commit the planned windows, then top every device up to one frontier.

    ``totals`` (``added``, ``values``, ``windows``) is updated as windows commit, so a
    failing sync still reports what it stored.
    """
    devices, back, ahead, todo = plan.devices, plan.back, plan.ahead, plan.todo
    if not todo:
        return
    clock = _ServerClock(store, org_code)
    code_of = dict(zip(todo, devices.loc[todo, "device"].astype("int64").tolist(), strict=True))
    fields_of = dict(zip(todo, [list(f) for f in devices.loc[todo, "fields"]], strict=True))
    names = sorted({f for d in todo for f in fields_of[d]})
    field_code = dict(zip(names, store.field_codes(names).tolist(), strict=True))
    stop = threading.Event()
    lock = threading.Lock()
    planned = sum(len(back[d]) for d in todo) + sum(
        len(_windows(ahead[d], end_ms)) for d in todo if d in ahead
    )
    bar = progress_bar(planned, "mirror sync", "window", client.progress)

    def one_window(device_id: str, lo: int, hi: int) -> int:
        """Fetch and commit ``[lo, hi)``; return the end it is certified complete to.

        Only what the server's clock was known to have passed *before* the request
        certifies: one response need not be one snapshot across its fields (the
        simulator reads each field at its own instant), so its own newest reading
        proves nothing about the other fields.
        """
        known = clock.now()
        frame = fetch.telemetry(
            client,
            devices.loc[[device_id], list(ALL_DEVICE_COLUMNS)],
            from_ms(lo),
            from_ms(hi),
            fields=fields_of[device_id],
        )
        f, t, v = to_long(frame, field_code)
        certified = lo if known is None else max(lo, min(hi, known + 1))
        n, n_values = store.commit_window(
            org_code, code_of[device_id], lo, hi, f, t, v,
            certified_end=certified, run=run,
        )  # fmt: skip
        clock.saw(int(t.max()) if len(t) else None)
        with lock:
            totals["added"] += n
            totals["values"] += n_values
            totals["windows"] += 1
            bar.update()
        return certified

    def advance(device_id: str, lo: int, target: int) -> None:
        """Fetch forward windows from the frontier ``lo`` towards ``target``.

        Each starts where the device is certified complete; stops when nothing more certifies.
        """
        while lo < target and not stop.is_set():
            certified = one_window(device_id, lo, min(lo + WINDOW_MS, target))
            if certified <= lo:
                return  # server clock not known past lo yet: the top-up continues
            lo = certified

    def work(device_id: str) -> None:
        for lo, hi in back[device_id]:
            if stop.is_set():
                return
            one_window(device_id, lo, hi)
        if device_id in ahead:
            advance(device_id, ahead[device_id], end_ms)

    workers = max_workers or int(getattr(client, "max_workers", 8) or 8)
    try:
        run_jobs([(d, partial(work, d)) for d in todo], workers, stop=stop)
        # Top-up: devices fetched before the server's clock was known to pass ``E`` (the
        # latest reading or changedAt seen) are certified only up to what was known at
        # their request. Windows from their frontier to ``E`` give every fetched device
        # the same frontier, so the next sync probes them all with one request.
        known = clock.now()
        if known is not None:
            target = min(end_ms, known + 1)
            held = store.devices(org_code)["cov_end"]
            frontier = {d: int(held[d]) for d in ahead if int(held[d]) < target}
            jobs = [(d, partial(advance, d, lo, target)) for d, lo in frontier.items()]
            run_jobs(jobs, workers, stop=stop)
    finally:
        bar.close()
