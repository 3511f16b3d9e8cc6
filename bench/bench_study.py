"""Study benchmarks (issue 11), against the simulator in a child process.

1. replay: a study of the demo organization's whole month (all meters: devices with
   details, telemetry, Part 1 days, the changelog) replayed offline — open the study
   (read and checksum the answers), then every fetch again — vs ``json.loads`` of the
   recorded bodies, the floor a replay cannot beat (target <= 2). Beside it, the same
   fetches replayed from a plain requests-cache file (``Client(cache=path,
   offline=True)``: pickle serializer, SQLite read per request), for comparison (full
   runs only).
2. cold: that study replayed in a fresh Python process (``import waltero_frames``
   excluded, reported beside it; CPU seconds too, as the wall time suffers most when
   the machine is shared): wall seconds / 1 s (target < 1).
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from pathlib import Path

import pandas as pd

import waltero_frames as wf
from bench.harness import best_time, result, run_isolated

MONTH = ("2026-11-01", "2026-12-01")


def fetch_month(client: wf.Client, org: str, start: str, end: str) -> dict[str, pd.DataFrame]:
    """What a monthly study of one organization fetches."""
    devs = wf.devices(client, org, details=True)
    return {
        "devices": devs,
        "telemetry": wf.telemetry(client, devs, start, end),
        "daily": wf.daily_consumption(client, org, start, end),
        "changes": wf.changes(client, org, start),
    }


def _bodies(answers: Path) -> list[bytes]:
    """The recorded response bodies, decompressed (what json.loads would be handed)."""
    from waltero_frames.study.answers import SERIALIZER

    with sqlite3.connect(answers) as con:
        rows = [v for (v,) in con.execute("SELECT value FROM responses")]
    return [SERIALIZER.loads(v).content for v in rows]


COLD = """
import time, json
t0 = time.perf_counter()
c0 = time.process_time()
import waltero_frames as wf
from bench.bench_study import fetch_month
t1, c1 = time.perf_counter(), time.process_time()
path, org, start, end = ARGS
study = wf.Study(path)
frames = fetch_month(study.client(progress=False), org, start, end)
study.close()
t2, c2 = time.perf_counter(), time.process_time()
print(json.dumps({"import_s": t1 - t0, "replay_s": t2 - t1, "replay_cpu_s": c2 - c1,
                  "rows": len(frames["telemetry"])}))
"""


def run(quick: bool) -> list[dict]:
    """Record a month of the demo org, then time its replays."""
    import sys

    org = wf.sim.DEMO_ORG
    start, end = MONTH
    out: list[dict] = []
    with (
        wf.sim.running(process=True, rate=None, login_limit=None) as sim,
        tempfile.TemporaryDirectory(prefix="bench-study-") as tmp,
    ):
        path = Path(tmp) / "month"
        with wf.Study(path) as study:
            live = fetch_month(study.client(progress=False, **_creds(sim)), org, start, end)
        plain = Path(tmp) / "plain.sqlite"
        if not quick:  # the same answers in a plain requests-cache file, for comparison
            with wf.Client(**_creds(sim), cache=plain, progress=False) as c:
                fetch_month(c, org, start, end)  # (the changelog stays uncached outside)
        n_meters = len(live["devices"])
        manifest = wf.Study(path).manifest
        bodies = _bodies(path / manifest["answers"])
        size = (
            f"{n_meters} meters x 1 month ({len(live['telemetry']):,} readings), "
            f"{len(bodies)} answers, {sum(map(len, bodies)) / 1e6:.1f} MB JSON"
        )

        def replay() -> dict[str, pd.DataFrame]:
            with wf.Study(path) as s:
                return fetch_month(s.client(progress=False), org, start, end)

        def replay_plain() -> None:
            with wf.Client(sim.base_url, cache=plain, offline=True, progress=False) as c:
                devs = wf.devices(c, org, details=True)
                wf.telemetry(c, devs, start, end)
                wf.daily_consumption(c, org, start, end)

        before = len(sim.log)
        got = replay()
        for name, df in live.items():
            pd.testing.assert_frame_equal(got[name], df, check_exact=True, obj=name)
        repeat = 3 if quick else 5
        t_replay = best_time(replay, repeat=repeat)
        t_plain = None if quick else round(best_time(replay_plain, repeat=repeat), 3)
        assert len(sim.log) == before, "a replay sent requests"
        t_floor = best_time(lambda: [json.loads(b) for b in bodies], repeat=repeat)
        out.append(
            result(
                "study replay: offline (open + every fetch) vs json.loads of the recorded bodies",
                ratio=t_replay / t_floor,
                target="<= 2",
                size=size,
                replay_s=round(t_replay, 3),
                json_loads_s=round(t_floor, 3),
                plain_cache_replay_s=t_plain,
                study_mb=round(sum(p.stat().st_size for p in path.iterdir()) / 1e6, 2),
                requests_during_replay=0,
            )
        )

        code = COLD.replace("ARGS", repr((str(path), org, start, end)))
        cold = [run_isolated(code) for _ in range(1 if quick else 3)]
        best = min(cold, key=lambda r: r["replay_s"])
        assert best["rows"] == len(live["telemetry"])
        out.append(
            result(
                "study cold replay: one month in a fresh process (s / 1 s)",
                ratio=best["replay_s"] / 1.0,
                target="< 1",
                size=size,
                replay_s=round(best["replay_s"], 3),
                replay_cpu_s=round(best["replay_cpu_s"], 3),
                import_waltero_frames_s=round(best["import_s"], 3),
                python=sys.version.split()[0],
            )
        )
    return out


def _creds(sim) -> dict[str, str]:
    return {"base_url": sim.base_url, "username": sim.username, "password": sim.password}


if __name__ == "__main__":
    for r in run(quick=True):
        print(r)
