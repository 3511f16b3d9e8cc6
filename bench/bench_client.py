"""Client benchmarks (issue 3), against the simulator in a child process.

1. fetch: the demo org's meters × N months of telemetry (devices with details, then
   telemetry), 20 ms added latency, rate limit lifted — ours vs a naive sequential
   ``requests`` + ``pd.json_normalize`` loop producing the same frame (target >= 5).
2. rate: server limit 20 req/s, >= 400 requests — achieved request rate / limit
   (target >= 0.8), counting from after the initial burst; every 429 recovered. The
   same client first lists the devices with details (48 calls, where it meets its
   first 429s and learns the pace), then the measured telemetry phase runs.
3. parse: JSON bytes → frame vs ``json.loads`` alone on the same bytes (target <= 2).
4. replay: (1) offline from its warm cache vs ``json.loads`` of the cached bodies —
   the floor a replay cannot beat (target <= 3).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import pandas as pd
import requests

import waltero_frames as wf
from bench.harness import best_time, result
from waltero_frames.api import parse as frames
from waltero_frames.api.paging import split_range
from waltero_frames.timeargs import api_timestamp
from waltero_frames.transport.client import _loads

FIELDS = list(frames.DEFAULT_FIELDS)


def naive_fetch(
    base: str, username: str, password: str, org: str, start, end, n_devices: int
) -> pd.DataFrame:
    """What a user writes by hand: one request after another, ``json_normalize`` per field."""
    s = requests.Session()
    token = s.post(f"{base}/api/auth/login", json={"username": username, "password": password})
    s.headers["Authorization"] = f"Bearer {token.json()['token']}"
    devices, offset = [], 0
    while True:
        page = s.get(
            f"{base}/api/organizations/{org}/devices", params={"limit": 100, "offset": offset}
        ).json()
        devices += page["data"]
        offset += len(page["data"])
        if offset >= page["meta"]["total"] or not page["data"]:
            break
    parts = []
    for dev in devices[:n_devices]:
        did = dev["id"]
        multiplier = s.get(f"{base}/api/devices/{did}").json()["data"]["multiplier"]
        for w0, w1 in split_range(start, end):
            params = {
                "startDate": api_timestamp(w0),
                "endDate": api_timestamp(w1),
                "fields": ",".join(FIELDS),
            }
            body = s.get(f"{base}/api/devices/{did}/telemetry", params=params).json()
            long = []
            for field, points in body["fields"].items():
                f = pd.json_normalize(points)
                if len(f):
                    f["field"] = field
                    long.append(f)
            if not long:
                continue
            wide = pd.concat(long).pivot_table(
                index="ts", columns="field", values="value", aggfunc="first"
            )
            wide = wide.reindex(columns=FIELDS)
            wide.insert(0, "device_id", did)
            wide["value"] = (wide["meter.value.raw"] * multiplier).round(6)
            parts.append(wide)
    df = pd.concat(parts)
    df.index = pd.to_datetime(df.index, utc=True).as_unit("us").rename("timestamp")
    df = (
        df.reset_index()
        .sort_values(["timestamp", "device_id"], kind="stable")
        .set_index("timestamp")
    )
    df["device_id"] = df["device_id"].astype("str")
    df.columns.name = None
    return df[["device_id", *FIELDS, "value"]].astype({f: float for f in FIELDS})


def ours_fetch(client: wf.Client, org: str, start, end, n_devices: int) -> pd.DataFrame:
    devs = wf.devices(client, org).iloc[:n_devices]
    return wf.telemetry(client, devs, start, end)  # details fetched (memoized) per device


def run(quick: bool) -> list[dict]:
    out: list[dict] = []
    org = wf.sim.DEMO_ORG
    months = 1 if quick else 3
    start = pd.Timestamp("2026-05-01", tz="UTC")
    end = start + pd.DateOffset(months=months)
    with (
        wf.sim.running(process=True, rate=None, login_limit=None, latency=0.02) as sim,
        tempfile.TemporaryDirectory(prefix="bench-client-") as tmp,
    ):
        n_org = int((sim.world.devices.organization_id == org).sum())
        n_dev = 16 if quick else n_org
        size = f"{n_dev} meters x {months} month(s), 20 ms latency"
        cache_dir = Path(tmp)

        # (1) ours vs naive, live, no cache
        def ours_live():
            with wf.Client(sim.base_url, sim.username, sim.password, progress=False) as c:
                return ours_fetch(c, org, start, end, n_dev)

        t_naive = best_time(
            lambda: naive_fetch(sim.base_url, sim.username, sim.password, org, start, end, n_dev),
            repeat=1,
        )
        t_ours = best_time(ours_live, repeat=2)
        ours_df = ours_live()
        pd.testing.assert_frame_equal(
            ours_df,
            naive_fetch(sim.base_url, sim.username, sim.password, org, start, end, n_dev),
            check_exact=True,
        )
        requests_made = n_dev * (1 + len(split_range(start, end))) + 2
        out.append(
            result(
                "client fetch: ours vs naive sequential loop",
                ratio=t_naive / t_ours,
                target=">= 5",
                size=size,
                ours_s=round(t_ours, 3),
                naive_s=round(t_naive, 3),
                rows=len(ours_df),
                requests=requests_made,
            )
        )

        # (3) JSON bytes -> frame vs json.loads on the same bytes
        s = requests.Session()
        token = s.post(
            f"{sim.base_url}/api/auth/login",
            json={"username": sim.username, "password": sim.password},
        )
        s.headers["Authorization"] = f"Bearer {token.json()['token']}"
        ids = sorted(ours_df["device_id"].unique())
        bodies = []
        for did in ids:
            for w0, w1 in split_range(start, end):
                params = {
                    "startDate": api_timestamp(w0),
                    "endDate": api_timestamp(w1),
                    "fields": ",".join(FIELDS),
                }
                bodies.append(
                    (
                        did,
                        s.get(f"{sim.base_url}/api/devices/{did}/telemetry", params=params).content,
                    )
                )
        mult = ours_df.attrs["multipliers"]
        t_loads = best_time(lambda: [json.loads(b) for _, b in bodies], repeat=5)
        decoded = [(d, _loads(b)) for d, b in bodies]
        t_parse_only = best_time(
            lambda: frames.parse_telemetry(decoded, fields=FIELDS, multipliers=mult), repeat=5
        )
        t_bytes_to_frame = best_time(
            lambda: frames.parse_telemetry(
                [(d, _loads(b)) for d, b in bodies], fields=FIELDS, multipliers=mult
            ),
            repeat=5,
        )
        out.append(
            result(
                "client parse: JSON bytes -> frame vs json.loads",
                ratio=t_bytes_to_frame / t_loads,
                target="<= 2",
                size=f"{len(bodies)} bodies, {sum(len(b) for _, b in bodies) / 1e6:.1f} MB, {len(ours_df)} rows",
                ours_s=round(t_bytes_to_frame, 4),
                json_loads_s=round(t_loads, 4),
                frame_build_only_s=round(t_parse_only, 4),
            )
        )

        # (4) offline replay from a warm cache vs json.loads of the cached bodies
        cache = cache_dir / "study.sqlite"
        with wf.Client(
            sim.base_url, sim.username, sim.password, cache=cache, progress=False
        ) as warm:
            live_df = ours_fetch(warm, org, start, end, n_dev)

        def replay():
            with wf.Client(sim.base_url, cache=cache, offline=True, progress=False) as c:
                return ours_fetch(c, org, start, end, n_dev)

        before = len(sim.log)
        t_replay = best_time(replay, repeat=3)
        assert len(sim.log) == before, "the offline replay sent requests"
        pd.testing.assert_frame_equal(replay(), live_df)
        from requests_cache import CachedSession

        session = CachedSession(str(cache), backend="sqlite")
        cached = [r.content for r in session.cache.responses.values()]
        session.close()
        t_floor = best_time(lambda: [json.loads(b) for b in cached], repeat=5)
        out.append(
            result(
                "client replay: offline from cache vs json.loads of cached bodies",
                ratio=t_replay / t_floor,
                target="<= 3",
                size=f"{len(cached)} cached responses, {sum(map(len, cached)) / 1e6:.1f} MB",
                replay_s=round(t_replay, 3),
                json_loads_s=round(t_floor, 3),
                requests_during_replay=0,
            )
        )

        # (2) achieved rate under a 20 req/s limit
        limit, burst = 20.0, 20
        sim.configure(rate=limit, burst=burst, latency=0.0)
        n_windows = 3 if quick else 9
        t_end = start + pd.Timedelta(days=31 * n_windows)
        n_devices = 30 if quick else 45
        with wf.Client(sim.base_url, sim.username, sim.password, progress=False) as c:
            devs = wf.devices(c, org, details=True).iloc[:n_devices]
            c.me()
            time.sleep(burst / limit + 0.1)  # let the bucket refill: the measurement starts full
            ok0 = _count(sim, "telemetry", 200)
            t0 = time.perf_counter()
            df = wf.telemetry(c, devs, start, t_end, ["battery.voltage"])
            elapsed = time.perf_counter() - t0
            granted = _count(sim, "telemetry", 200) - ok0
            throttled = _count(sim, "telemetry", 429)
            throttled_all = sum(n for (_, status), n in sim.counters.items() if status == 429)
        assert granted == n_devices * n_windows and df["device_id"].nunique() == n_devices
        out.append(
            result(
                "client rate: achieved / server limit (after the burst)",
                ratio=(granted - burst) / elapsed / limit,
                target=">= 0.8",
                size=f"{granted} requests at limit {limit:g}/s, burst {burst}",
                elapsed_s=round(elapsed, 2),
                achieved_incl_burst=round(granted / elapsed / limit, 3),
                throttled_429_measured_phase=throttled,
                throttled_429_whole_session=throttled_all,
                recovered=True,
                learned_rate=round(c.limiter.rate or 0.0, 2),
            )
        )
    return out


def _count(sim, route: str, status: int) -> int:
    return int(sim.counters.get((route, status), 0))


if __name__ == "__main__":
    for r in run(quick=True):
        print(r)
