"""Does ``flag_anomalies`` recover the simulator's injected anomalies?

``python -m bench.anomaly_recovery [--seed 0] [--org demo|south|all]``

Data: every device of the organization for the whole generated year, **as recorded**
(the World's ``telemetry_truth`` as of now, with every logged correction undone by
applying, through ``wf.apply_changes``, a change back to the first ``previous_value`` of
each corrected reading) — the misreads the changelog later fixed are in the data, as a
live client saw them before the fix. Flags are computed with the default thresholds,
the devices' meter types and the organization's time zone (night window).

Matching, per flag type (the World's ``kind`` == our ``rule``), on episodes:
- truth episodes: ``world.anomalies`` rows (device, kind, [start, end]);
- our episodes: ``wf.analysis.anomalies.anomaly_events`` runs of flagged readings
  (device, rule, [start, end]; a gap episode spans the hole, from the last reading
  before it to the first after it);
- an episode of ours is a true positive when it overlaps in time (closed intervals)
  a truth episode of the same device and kind; **precision** = TP episodes of ours /
  all episodes of ours; **recall** = truth episodes overlapped by at least one of ours
  / all truth episodes. No tolerance window is added around the truth intervals.
A kind with no truth episode and no detection reports precision = recall = 1 (n/a is
printed); a kind without truth but with detections has precision 0.

Windows that start inside an episode (``--inside``; :func:`recovery_inside`): the
year-long scan above sees every episode with history before it, which a notebook that
scans a fortnight does not. For every truth episode, a window of ``days`` days (14, as
notebook 3) starts at the episode's first affected reading (``first``) and at its
midpoint (``middle``; the same instant for one-reading episodes); every device of the
organization is flagged on that window alone. Per kind and position: **recall** =
windows whose starting episode is overlapped by one of our episodes of that kind and
device / windows; **precision** = our episodes (of that kind, in those windows) that
overlap a truth episode clipped to the window / all of ours. Readings before the window
are not seen, so an event that *is* one reading's step from the reading before it
(``spike``, ``negative`` and ``rollover`` at ``first``, a ``gap`` at ``middle``, whose
hole began before the window) is undetectable by construction: those rows measure what
a scan starting there can know, not a defect.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

FIELDS = [
    "meter.value.raw",
    "meter.value.processed",
    "battery.voltage",
    "battery.level",
    "connection.rssi",
]


def recorded_readings(world, device_ids) -> pd.DataFrame:
    """Telemetry of ``device_ids`` as recorded (corrections undone)."""
    import waltero_frames as wf
    from waltero_frames.sim.world.generate import T0, T1

    now = world.telemetry_truth(device_ids, T0, T1, fields=FIELDS)
    log = world.changes()
    log = log[log["device_id"].isin(list(device_ids))]
    if len(log) == 0:
        return now
    ordered = log.sort_values(["changed_at", "change_id"])
    key = ["device_id", "field", "timestamp"]
    first = ordered.drop_duplicates(key, keep="first")
    current = ordered.drop_duplicates(key, keep="last").set_index(key)["new_value"]
    undo = pd.DataFrame(
        {
            "change_id": first["change_id"].to_numpy(),
            "device_id": first["device_id"].to_numpy(),
            "field": first["field"].to_numpy(),
            "timestamp": first["timestamp"].to_numpy(),
            "previous_value": current.reindex(pd.MultiIndex.from_frame(first[key])).to_numpy(),
            "new_value": first["previous_value"].to_numpy(),
            "actor": "undo",
        },
        index=pd.DatetimeIndex(
            np.full(len(first), np.datetime64("NaT", "ns")), tz="UTC", name="changed_at"
        ),
    )
    out = wf.apply_changes(now, undo)
    if len(out.attrs["conflicts"]):
        raise RuntimeError("the World's telemetry disagrees with its own changelog")
    out.attrs = {}
    return out


def match(truth: pd.DataFrame, ours: pd.DataFrame, kinds) -> pd.DataFrame:
    """Per kind: truth/our episode counts, TP, precision, recall (see module docstring)."""
    rows = []
    for kind in kinds:
        t = truth[truth["kind"] == kind]
        o = ours[ours["rule"] == kind]
        t_hit = np.zeros(len(t), dtype=bool)
        o_hit = np.zeros(len(o), dtype=bool)
        if len(t) and len(o):
            om = (
                o.reset_index(drop=True)
                .reset_index()
                .merge(
                    t.reset_index(drop=True).reset_index(), on="device_id", suffixes=("_o", "_t")
                )
            )
            overlap = (om["start_o"] <= om["end_t"]) & (om["start_t"] <= om["end_o"])
            o_hit[om.loc[overlap, "index_o"].unique()] = True
            t_hit[om.loc[overlap, "index_t"].unique()] = True
        precision = o_hit.mean() if len(o) else (1.0 if len(t) == 0 else 0.0)
        recall = t_hit.mean() if len(t) else 1.0
        rows.append(
            {
                "kind": kind,
                "truth": len(t),
                "flagged": len(o),
                "tp_ours": int(o_hit.sum()),
                "found": int(t_hit.sum()),
                "precision": float(precision),
                "recall": float(recall),
            }
        )
    return pd.DataFrame(rows).set_index("kind")


def recovery(seed: int = 0, org: str = "demo") -> tuple[pd.DataFrame, dict]:
    """Run the recovery on one organization ("demo", "south" or "all")."""
    import waltero_frames as wf
    from waltero_frames.analysis.anomalies import RULES, anomaly_events
    from waltero_frames.sim.world.generate import DEMO_ORG, SOUTH_ORG
    from waltero_frames.sim.world.model import World

    world = World.for_seed(seed)
    orgs = {"demo": [DEMO_ORG], "south": [SOUTH_ORG], "all": [DEMO_ORG, SOUTH_ORG]}[org]
    events, truths, n = [], [], 0
    t_flag = 0.0
    for org_id in orgs:
        devs = world.devices[world.devices["organization_id"] == org_id]
        readings = recorded_readings(world, list(devs.index))
        n += len(readings)
        t0 = time.perf_counter()
        flags = wf.flag_anomalies(
            readings,
            meter_type=devs["meter_type"],
            multiplier=devs["multiplier"],
            register_digits=devs["register_digits"],
            tz=world.orgs.loc[org_id, "timezone"],
        )
        t_flag += time.perf_counter() - t0
        events.append(anomaly_events(flags))
        truths.append(world.anomalies[world.anomalies["device_id"].isin(devs.index)])
    ours = pd.concat(events, ignore_index=True)
    truth = pd.concat(truths, ignore_index=True)
    table = match(truth, ours, RULES)
    return table, {"readings": n, "flag_seconds": round(t_flag, 3), "events": ours}


def recovery_inside(
    seeds=(0, 1, 2, 3), org: str = "demo", days: int = 14, kinds=None
) -> pd.DataFrame:
    """Recall and precision on windows that start inside each truth episode (see above).

    Returns one row per (kind, position): ``windows``, ``found``, ``recall``,
    ``flagged``, ``tp_ours``, ``precision`` summed over the seeds.
    """
    import waltero_frames as wf
    from waltero_frames.analysis.anomalies import RULES, anomaly_events
    from waltero_frames.sim.world.generate import DEMO_ORG, SOUTH_ORG
    from waltero_frames.sim.world.model import World

    kinds = list(RULES if kinds is None else kinds)
    org_ids = {"demo": [DEMO_ORG], "south": [SOUTH_ORG], "all": [DEMO_ORG, SOUTH_ORG]}[org]
    span = pd.Timedelta(days=days)
    counts: dict[tuple[str, str], np.ndarray] = {}
    for seed in seeds:
        world = World.for_seed(seed)
        for org_id in org_ids:
            devs = world.devices[world.devices["organization_id"] == org_id]
            readings = recorded_readings(world, list(devs.index)).sort_index(kind="stable")
            stamps = readings.index
            truth = world.anomalies[world.anomalies["device_id"].isin(devs.index)]
            truth = truth[truth["kind"].isin(kinds)]
            for row in truth.itertuples(index=False):
                for position, w0 in (
                    ("first", row.start),
                    ("middle", row.start + (row.end - row.start) / 2),
                ):
                    w1 = w0 + span
                    a, b = stamps.searchsorted(w0), stamps.searchsorted(w1)
                    flags = wf.flag_anomalies(
                        readings.iloc[a:b],
                        meter_type=devs["meter_type"],
                        multiplier=devs["multiplier"],
                        register_digits=devs["register_digits"],
                        tz=world.orgs.loc[org_id, "timezone"],
                    )
                    ours = anomaly_events(flags, rules=[row.kind])
                    inside = truth[
                        (truth["kind"] == row.kind) & (truth["start"] < w1) & (truth["end"] >= w0)
                    ].assign(
                        start=lambda t, w0=w0: t["start"].clip(lower=w0),
                        end=lambda t, w1=w1: t["end"].clip(upper=w1),
                    )
                    table = match(inside, ours, [row.kind])
                    mine = ours[ours["device_id"] == row.device_id]
                    found = bool(((mine["start"] <= row.end) & (mine["end"] >= w0)).any())
                    c = counts.setdefault((row.kind, position), np.zeros(4, dtype=int))
                    c += [1, found, table.loc[row.kind, "flagged"], table.loc[row.kind, "tp_ours"]]
    rows = []
    for (kind, position), (windows, found, flagged, tp) in sorted(counts.items()):
        rows.append(
            {
                "kind": kind,
                "position": position,
                "windows": int(windows),
                "found": int(found),
                "recall": found / windows,
                "flagged": int(flagged),
                "tp_ours": int(tp),
                "precision": tp / flagged if flagged else 1.0,
            }
        )
    return pd.DataFrame(rows).set_index(["kind", "position"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--org", choices=["demo", "south", "all"], default="demo")
    ap.add_argument("--events", action="store_true", help="also print our episodes")
    ap.add_argument(
        "--inside",
        action="store_true",
        help="windows of 14 days that start inside each episode, seeds 0-3",
    )
    args = ap.parse_args(argv)
    if args.inside:
        inside = recovery_inside(org=args.org)
        print(f"org={args.org} seeds 0-3, 14-day windows starting inside each episode")
        print(inside.to_string(float_format=lambda x: f"{x:.3f}"))
        return 0
    table, info = recovery(args.seed, args.org)
    pd.set_option("display.width", 200)
    print(
        f"org={args.org} seed={args.seed} readings={info['readings']} flag_anomalies={info['flag_seconds']} s"
    )
    print(table.to_string(float_format=lambda x: f"{x:.3f}"))
    if args.events:
        print(info["events"].to_string())
    ok = bool(((table["precision"] >= 0.9) & (table["recall"] >= 0.9)).all())
    print("all kinds >= 0.9 precision and recall:", ok)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
