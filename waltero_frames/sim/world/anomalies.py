"""Injected anomalies of the demo fleet and the generated data-audit changelog.

`inject_anomalies` attaches the fixed anomaly plan to the fleet before readings are
generated; `anomaly_frame` reports where each one landed (times read back from the
generated series); `base_changes` writes the corrections of misreads as changelog rows
(one row per changed field; raw and processed rows of one correction share
``changed_at`` and lag).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .generate import (
    HOUR_MS,
    PROCESSED,
    RAW,
    T0_MS,
    DeviceSpec,
    to_ms,
)
from .part1 import rollovers


def _ms(text: str) -> int:
    return to_ms(pd.Timestamp(text))


def _iso(ms: int) -> str:
    return pd.Timestamp(ms, unit="ms", tz="UTC").isoformat()


def _snap(spec: DeviceSpec, when: str) -> int:
    """Return the first meter reading at or after ``when``."""
    step = spec.cadence_s * 1000
    return T0_MS + -(-(_ms(when) - T0_MS) // step) * step


# Misreads: (org, n, when, corrections [(actor, changed_at, "true" | "wrong")]).
MISREADS = [
    (0, 1, "2026-05-20T06:00Z", [("user", "2026-05-25T09:13:22.512Z", "true")]),
    (0, 5, "2026-02-11T08:00Z", [("system", "2026-09-14T02:00:00.000Z", "true")]),
    (
        0,
        10,
        "2026-07-03T19:00Z",
        [
            ("user", "2026-07-06T10:22:05.120Z", "wrong"),
            ("system", "2026-07-20T04:00:00.000Z", "true"),
        ],
    ),
    (0, 17, "2026-04-02T07:00Z", []),
    (0, 21, "2026-01-15T18:00Z", [("user", "2026-06-02T14:05:40.003Z", "true")]),
    (0, 37, "2026-10-10T06:30Z", []),
    (0, 42, "2026-11-27T12:00Z", [("system", "2026-11-28T09:30:11.250Z", "true")]),
    (1, 2, "2026-03-03T21:00Z", [("user", "2026-08-19T23:41:09.777Z", "true")]),
]
#: A two-day misread episode re-recognized in bulk by the system (> 200 change rows).
BULK = (0, 41, "2026-03-10T00:00Z", "2026-03-12T00:00Z", "2026-10-06T03:00:00.000Z")
#: Rollover devices: (org, n) -> (multiplier, register_digits, instant the register wraps).
#: The wrap lands on the first reading at or after that instant whose register moved.
ROLLOVERS = {
    (0, 13): (0.01, 5, "2026-03-05T10:15Z"),
    (0, 24): (1, 5, "2026-04-09T07:30Z"),
    (0, 30): (0.001, 6, "2026-03-11T07:00Z"),
    (0, 45): (10, 5, "2026-01-09T07:00Z"),
    (1, 8): (0.1, 5, "2025-12-13T12:00Z"),
}
#: The guide's changelog example, reproduced: the demo device's register read 1234567
#: at 2026-05-20T06:00Z, misread as 1284567 (a 3 read as 8), corrected by a user.
GUIDE_EXAMPLE = ((0, 1), "2026-05-20T06:00Z", 1_234_567, 50_000)
GAPS = {
    (0, 9): [("2026-02-03T01:00Z", "2026-02-03T07:00Z")],
    (0, 14): [("2026-06-10T12:00Z", "2026-06-13T12:00Z")],
    (0, 26): [("2026-08-01T00:00Z", "2026-08-18T00:00Z")],
    (0, 46): [("2026-05-21T20:00Z", "2026-05-23T03:00Z")],
    (1, 3): [("2026-04-04T10:00Z", "2026-04-06T10:00Z")],
}
STUCK = {
    (0, 2): ("2026-01-20T00:00Z", "2026-01-29T00:00Z"),
    (0, 23): ("2026-02-14T00:00Z", "2026-02-21T00:00Z"),
}
NIGHT_FLOW = {(0, 33): ("2026-09-01T00:00Z", "2026-09-15T00:00Z", 0.012)}
SWAP = {(0, 16): ("2026-06-15T09:00Z", 12)}
MISMATCH = {(0, 34): ("2026-04-20T00:00Z", "2026-04-27T00:00Z", 10)}  # wrong = mult * 10
LOW_BATTERY = {(0, 40): "2026-07-01T00:00Z"}
WEAK_SIGNAL = {
    (0, 43): ("2026-10-01T00:00Z", "2026-11-10T00:00Z"),
    (1, 5): ("2025-12-01T00:00Z", "2026-12-01T00:00Z"),
}
VACATION = {(0, n): [("2026-07-25T00:00Z", "2026-08-09T00:00Z")] for n in (9, 11, 12)}


def _misread_offset(spec: DeviceSpec, n: int) -> int:
    """Return a digit misread: one digit three places below the top reads higher."""
    org = int(spec.device_id[0]) - 1
    if (org, n) == GUIDE_EXAMPLE[0]:
        return GUIDE_EXAMPLE[3]
    return (1 + n % 5) * 10 ** (spec.register_digits - 3)


def inject_anomalies(specs: list[DeviceSpec]) -> None:
    """Attach the anomaly plan to the fleet (in place)."""
    by_key = {}
    for s in specs:
        org = int(s.device_id[0]) - 1
        by_key[(org, int(s.device_id[-2:]))] = s
    for key, (mult, digits, when) in ROLLOVERS.items():
        spec = by_key[key]
        spec.multiplier, spec.register_digits = mult, digits
        spec.anchor = (_ms(when), 10**digits)
    key, when, raw, _ = GUIDE_EXAMPLE
    by_key[key].anchor = (_ms(when), raw)
    for org, n, when, _ in MISREADS:
        spec = by_key[(org, n)]
        spec.anomalies.setdefault("misreads", []).append(
            (_snap(spec, when), _misread_offset(spec, n))
        )
    org, n, start, end, _ = BULK
    spec = by_key[(org, n)]
    spec.anomalies["misread_episode"] = (_ms(start), _ms(end), _misread_offset(spec, n))
    for key, windows in GAPS.items():
        by_key[key].anomalies["gaps"] = [(_ms(a), _ms(b)) for a, b in windows]
    for key, windows in VACATION.items():
        by_key[key].anomalies["vacation"] = [(_ms(a), _ms(b)) for a, b in windows]
    for key, (a, b) in STUCK.items():
        by_key[key].anomalies["stuck"] = (_ms(a), _ms(b))
    for key, (a, b, flow) in NIGHT_FLOW.items():
        by_key[key].anomalies["night_flow"] = (_ms(a), _ms(b), flow)
    for key, (when, new_raw) in SWAP.items():
        by_key[key].anomalies["swap"] = (_snap(by_key[key], when), new_raw)
    for key, (a, b, factor) in MISMATCH.items():
        wrong = by_key[key].multiplier * factor
        by_key[key].anomalies["multiplier_mismatch"] = (_ms(a), _ms(b), wrong)
    for key, when in LOW_BATTERY.items():
        by_key[key].anomalies["battery_decline"] = _ms(when)
    for key, (a, b) in WEAK_SIGNAL.items():
        by_key[key].anomalies["weak_signal"] = (_ms(a), _ms(b))


@dataclass(frozen=True)
class BaseChanges:
    """Generated changelog: the frame and a per-(device, field) index for replay."""

    frame: pd.DataFrame
    index: dict  # (device_id, field) -> [(changed_at_ms, id, ts_ms, new_value)]
    next_id: int


def base_changes(specs: list[DeviceSpec], readings: dict, rng: np.random.Generator):
    """Correction events of the plan → change rows ordered by (changed_at, id)."""
    by_key = {(int(s.device_id[0]) - 1, int(s.device_id[-2:])): s for s in specs}
    events = []  # (changed_at_ms, seq, device_id, ts_ms array, new raw array, actor)
    for seq, (org, n, when_text, corrections) in enumerate(MISREADS):
        spec = by_key[(org, n)]
        r = readings[spec.device_id]
        when, offset = _snap(spec, when_text), _misread_offset(spec, n)
        i = int(np.searchsorted(r.meter_ts, when))
        truth = int(r.raw_true[i])
        for actor, changed_at, target in corrections:
            new = truth if target == "true" else truth + offset // 10
            events.append(
                (_ms(changed_at), seq, spec.device_id, np.array([when]), np.array([new]), actor)
            )
    org, n, start, end, changed_at = BULK
    spec = by_key[(org, n)]
    r = readings[spec.device_id]
    inside = (r.meter_ts >= _ms(start)) & (r.meter_ts < _ms(end))
    events.append(
        (
            _ms(changed_at),
            len(MISREADS),
            spec.device_id,
            r.meter_ts[inside],
            r.raw_true[inside],
            "system",
        )
    )
    events.sort(key=lambda e: (e[0], e[1]))
    lags = rng.integers(0, 300_001, size=len(events))
    spec_by_id = {s.device_id: s for s in specs}
    rows: list[tuple] = []
    current: dict[tuple[str, str, int], float] = {}
    for (changed, _, dev, stamps, new_raw, actor), lag in zip(events, lags, strict=True):
        spec = spec_by_id[dev]
        ts, recorded = readings[dev].series[RAW]
        _, processed = readings[dev].series[PROCESSED]
        pos = np.searchsorted(ts, stamps)
        for k, p in enumerate(pos.tolist()):
            old_raw = current.get((dev, RAW, int(ts[p])), int(recorded[p]))
            old_proc = current.get((dev, PROCESSED, int(ts[p])), float(processed[p]))
            new_proc = round(int(new_raw[k]) * spec.multiplier, 6)
            edits: tuple[tuple[str, float, float], ...] = (
                (RAW, old_raw, int(new_raw[k])),
                (PROCESSED, old_proc, new_proc),
            )
            for field, before, after in edits:
                rows.append(
                    (
                        dev,
                        spec.organization_id,
                        field,
                        int(ts[p]),
                        before,
                        after,
                        actor,
                        changed,
                        changed + int(lag),
                    )
                )
                current[(dev, field, int(ts[p]))] = after
    frame = pd.DataFrame(
        rows,
        columns=[
            "device_id",
            "organization_id",
            "field",
            "ts",
            "previous_value",
            "new_value",
            "actor",
            "changed_ms",
            "visible_ms",
        ],
    )
    ids = np.arange(1, len(frame) + 1)
    index: dict = {}
    for cid, row in zip(ids.tolist(), frame.itertuples(index=False), strict=True):
        index.setdefault((row.device_id, row.field), []).append(
            (row.changed_ms, cid, row.ts, row.new_value)
        )
    out = pd.DataFrame(
        {
            "change_id": [f"chg_{i:011d}" for i in ids],
            "device_id": frame["device_id"].astype(str),
            "organization_id": frame["organization_id"].astype(str),
            "field": frame["field"].astype(str),
            "timestamp": pd.to_datetime(frame["ts"], unit="ms", utc=True),
            "previous_value": frame["previous_value"].astype(float),
            "new_value": frame["new_value"].astype(float),
            "actor": frame["actor"].astype(str),
            "changed_at": pd.to_datetime(frame["changed_ms"], unit="ms", utc=True),
            "visible_at": pd.to_datetime(frame["visible_ms"], unit="ms", utc=True),
        }
    )
    return BaseChanges(out, index, len(frame) + 1)


def _inside(ts: np.ndarray, a: int, b: int) -> np.ndarray:
    """Return the reading times (int ms) in ``[a, b)``."""
    return ts[(ts >= a) & (ts < b)]


def anomaly_frame(specs: list[DeviceSpec], readings: dict) -> pd.DataFrame:
    """Where each injected anomaly landed: device_id, kind, start, end, detail."""
    rows = []

    def add(dev, kind, start, end, detail):
        rows.append((dev, kind, int(start), int(end), detail))

    def span(dev, ts, kind, a, b, detail):
        """Add an episode over the readings in ``[a, b)``; ``{n}`` in ``detail`` counts them."""
        inside = _inside(ts, a, b)
        add(dev, kind, inside[0], inside[-1], detail.format(n=inside.size))

    corrected = {(o, n): c for o, n, _, c in MISREADS}
    for spec in specs:
        dev, an, r = spec.device_id, spec.anomalies, readings[spec.device_id]
        key = (int(dev[0]) - 1, int(dev[-2:]))
        ts, raw = r.series[RAW]
        for when, offset in an.get("misreads", ()):
            fixes = corrected.get(key, [])
            how = "; ".join(f"corrected by {a} at {c} ({t} value)" for a, c, t in fixes)
            add(dev, "spike", when, when, f"raw +{offset} digit misread; {how or 'uncorrected'}")
        if "misread_episode" in an:
            a, b, offset = an["misread_episode"]
            note = f"{{n}} readings raw +{offset}; bulk system re-recognition at {BULK[4]}"
            span(dev, ts, "spike", a, b, note)
        for i in np.flatnonzero(rollovers(raw, spec.register_digits)).tolist():
            add(
                dev,
                "rollover",
                ts[i],
                ts[i],
                f"{raw[i - 1]} -> {raw[i]} on {spec.register_digits} digits x {spec.multiplier}",
            )
        for a, b in an.get("gaps", ()):
            step = spec.cadence_s * 1000
            first = T0_MS + -(-(a - T0_MS) // step) * step
            last = T0_MS + (b - 1 - T0_MS) // step * step
            add(dev, "gap", first, last, f"no readings for {(b - a) / HOUR_MS:g} h")
        if "stuck" in an:
            a, b = an["stuck"]
            span(dev, ts, "stuck", a, b + 1, "register does not move")
        if "night_flow" in an:
            a, b, flow = an["night_flow"]
            span(dev, ts, "night_flow", a, b, f"leak: continuous {flow} {spec.unit}/h")
        if "swap" in an:
            when, new_raw = an["swap"]
            i = int(np.searchsorted(ts, when))
            add(dev, "negative", when, when, f"meter swap: raw {raw[i - 1]} -> {raw[i]}")
        if "multiplier_mismatch" in an:
            a, b, wrong = an["multiplier_mismatch"]
            note = f"processed = raw x {wrong:g} instead of x {spec.multiplier:g}"
            span(dev, ts, "multiplier_mismatch", a, b, note)
        if "battery_decline" in an:
            bts, level = r.series["battery.level"]
            low = bts[level < 20]
            add(dev, "low_battery", low[0], low[-1], "battery.level below 20 %")
        if "weak_signal" in an:
            a, b = an["weak_signal"]
            rts, _ = r.series["connection.rssi"]
            inside = rts[(rts >= a) & (rts < b)]
            add(dev, "weak_signal", inside[0], inside[-1], "connection.rssi about -116 dBm")
    frame = pd.DataFrame(rows, columns=["device_id", "kind", "start", "end", "detail"])
    for col in ("start", "end"):
        frame[col] = pd.to_datetime(frame[col], unit="ms", utc=True)
    frame["device_id"] = frame["device_id"].astype(str)
    frame["kind"] = frame["kind"].astype(str)
    frame["detail"] = frame["detail"].astype(str)
    return frame.sort_values(["start", "device_id", "kind"], kind="stable").reset_index(drop=True)


__all__ = ["BaseChanges", "anomaly_frame", "base_changes", "inject_anomalies"]
