"""Interrupted syncs: 500s past the retry budget, dropped connections, SIGKILL of a process
running ``waltero-frames sync``. Every resumed sync must end equal to the World's ground
truth, with every change processed exactly once and no duplicate rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from test_mirror_sync import assert_equals_truth, org_devices

import waltero_frames as wf
from waltero_frames.cli import main as cli_main
from waltero_frames.mirror import changelog
from waltero_frames.sim import DEMO_ORG

RAW = "meter.value.raw"
START, END = "2026-06-01T00:00Z", "2026-06-03T00:00Z"


def add_bulk(sim, n=450, start=START, end=END, delta=1000):
    """``n`` raw corrections (2n change rows) sharing one changedAt; returns their rows."""
    world = sim.world
    at = (world.now() - pd.Timedelta(seconds=1)).floor("ms")
    rows = []
    devs = org_devices(sim).index
    per = n // 10
    for d in devs[:10]:
        ts, raw = world.window(d, RAW, start, end)
        for t, r in zip(ts[:per], raw[:per], strict=True):
            rows += sim.add_correction(
                d, RAW, pd.Timestamp(int(t), unit="ms", tz="UTC"), int(r) + delta, changed_at=at
            )
    return rows


def assert_applied_once(mirror, rows):
    log = mirror.changes(DEMO_ORG)
    assert log["change_id"].is_unique
    ids = [r["change_id"] for r in rows]
    got = log.set_index("change_id").reindex(ids)
    assert got["outcome"].notna().all(), "a change was lost"
    assert got["outcome"].isin(["applied", "current"]).all(), got["outcome"].value_counts()


def fail_after(monkeypatch, sim, calls, rule):
    """Let ``calls`` changelog pages through, then make the server answer ``rule``."""
    real = changelog.ep.changes_page
    seen = {"n": 0}

    def wrapper(*args, **kwargs):
        seen["n"] += 1
        if seen["n"] == calls + 1:
            sim.configure(fail=[rule])
        return real(*args, **kwargs)

    monkeypatch.setattr(changelog.ep, "changes_page", wrapper)


# ------------------------------------------------------------------------ HTTP faults
@pytest.mark.parametrize("status", [500, "drop"])
def test_telemetry_faults_past_retry_budget_then_resume(sim, tmp_path, status, make_client):
    client = make_client()
    mirror = wf.Mirror(tmp_path / "m.sqlite")
    bad = org_devices(sim).index[7]
    sim.configure(fail=[{"status": status, "path": f"/devices/{bad}/telemetry", "times": None}])
    with pytest.raises((wf.WalteroError, OSError)):
        mirror.sync(client, DEMO_ORG, START, END)
    runs = mirror.runs()
    assert runs["status"].tolist() == ["failed"]
    held = mirror.readings(DEMO_ORG)
    assert bad not in set(held["device_id"])  # the failing device committed nothing
    cells = int(held.drop(columns=["device_id", "value"]).notna().sum().sum())
    # the failed run logs what it committed: readings = (device, timestamp) rows, values apart
    assert 0 < runs["values_added"].iloc[0] == cells
    assert 0 < runs["readings_added"].iloc[0] == len(held)
    assert "telemetry" in runs["error"].iloc[0] or "Error" in runs["error"].iloc[0]
    sim.configure(fail=[])
    again = mirror.sync(client, DEMO_ORG, START, END)
    assert again.readings_added > 0
    assert_equals_truth(mirror, sim, START, END)
    assert mirror.runs()["status"].tolist() == ["failed", "ok"]


@pytest.mark.parametrize(
    ("pages", "rule"),
    [
        (2, {"status": 500, "path": "/data-audit/changes", "times": None}),
        (3, {"status": "drop", "path": "/data-audit/changes", "times": None}),
    ],
)
def test_changelog_faults_mid_paging_then_resume(
    sim, tmp_path, monkeypatch, pages, rule, make_client
):
    client = make_client()
    mirror = wf.Mirror(tmp_path / "m.sqlite")
    mirror.sync(client, DEMO_ORG, START, END)
    rows = add_bulk(sim)  # 900 rows at one changedAt: 5 pages of 200
    fail_after(monkeypatch, sim, pages, rule)
    with pytest.raises((wf.WalteroError, OSError)):
        mirror.sync(client, DEMO_ORG, START, END)
    monkeypatch.undo()
    done = mirror.changes(DEMO_ORG)
    before = int(done["change_id"].isin([r["change_id"] for r in rows]).sum())
    assert 0 < before < len(rows)  # interrupted mid-paging, the committed pages kept
    assert done["change_id"].is_unique
    sim.configure(fail=[])
    resumed = mirror.sync(client, DEMO_ORG, START, END)
    assert resumed.changes_applied == len(rows) - before
    assert_applied_once(mirror, rows)
    assert_equals_truth(mirror, sim, START, END)


# ------------------------------------------------------------------------- SIGKILL
def run_and_kill(sim, db, after_requests, start=START, end=END, timeout=60.0):
    """Run the CLI in a subprocess; SIGKILL it once the server has logged
    ``after_requests`` more requests. Returns True when it was killed, False when it ended."""
    env = {
        **os.environ,
        "WALTERO_BASE_URL": sim.base_url,
        "WALTERO_USERNAME": sim.username,
        "WALTERO_PASSWORD": sim.password,
    }
    cmd = [sys.executable, "-m", "waltero_frames.cli", "sync", "--org", DEMO_ORG,
           "--db", str(db), "--start", start, "--end", end]  # fmt: skip
    n0 = len(sim.log)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if len(sim.log) - n0 >= after_requests:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)
                return True
            time.sleep(0.002)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err.decode()
        return False
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def check_killed_backfill(sim, tmp_path, after, make_client):
    db = tmp_path / f"kill-{after}.sqlite"
    killed = run_and_kill(sim, db, after)
    assert killed or after >= FIRST_SYNC_REQUESTS  # at the last request it may still be killed
    mirror = wf.Mirror(db)
    if after < FIRST_SYNC_REQUESTS:  # killed mid-run: the run row says so
        assert mirror.runs()["status"].iloc[-1] == "running"
    mirror.sync(make_client(), DEMO_ORG, START, END)
    assert_equals_truth(mirror, sim, START, END)
    log = mirror.changes(DEMO_ORG)
    assert log["change_id"].is_unique
    mirror.close()


def check_killed_changelog(sim, tmp_path, after, make_client):
    db = tmp_path / f"kill-changes-{after}.sqlite"
    client = make_client()
    with wf.Mirror(db) as mirror:
        mirror.sync(client, DEMO_ORG, START, END)
    rows = add_bulk(sim, delta=1000 + after)
    killed = run_and_kill(sim, db, after)
    assert killed or after >= CHANGELOG_SYNC_REQUESTS
    with wf.Mirror(db) as mirror:
        mirror.sync(client, DEMO_ORG, START, END)
        assert_applied_once(mirror, rows)
        assert_equals_truth(mirror, sim, START, END)


# A first sync of this range makes 150 requests: login, device list (twice), 48 details,
# 48 fields, 2 baseline changelog pages, 48 telemetry windows, 1 changelog page.
FIRST_SYNC_REQUESTS = 150
# The incremental sync after 900 new change rows: login, device list, 5 changelog pages.
CHANGELOG_SYNC_REQUESTS = 7


@pytest.mark.parametrize("after", [60, 125])
def test_sigkill_during_backfill_then_resume(sim, tmp_path, after, make_client):
    check_killed_backfill(sim, tmp_path, after, make_client)


@pytest.mark.slow
@pytest.mark.parametrize("after", [1, 2, 3, 20, 50, 97, 98, 99, 100, 110, 140, 148, 150, 152])
def test_sigkill_matrix_backfill(sim, tmp_path, after, make_client):
    check_killed_backfill(sim, tmp_path, after, make_client)


@pytest.mark.parametrize("after", [5])
def test_sigkill_during_changelog_then_resume(sim, tmp_path, after, make_client):
    check_killed_changelog(sim, tmp_path, after, make_client)


@pytest.mark.slow
@pytest.mark.parametrize("after", [1, 2, 3, 4, 6, 7, 8])
def test_sigkill_matrix_changelog(sim, tmp_path, after, make_client):
    check_killed_changelog(sim, tmp_path, after, make_client)


# ------------------------------------------------------------------------------- CLI
def test_cli_prints_one_line_and_never_the_password(sim, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WALTERO_BASE_URL", sim.base_url)
    monkeypatch.setenv("WALTERO_USERNAME", sim.username)
    monkeypatch.setenv("WALTERO_PASSWORD", sim.password)
    db = tmp_path / "cli.sqlite"
    args = ["sync", "--org", DEMO_ORG, "--db", str(db), "--start", START, "--end", END]
    assert cli_main(args) == 0
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"sync org={DEMO_ORG} readings_added=")
    # readings (rows) and field values are named apart, with the rows the mirror holds
    counts = dict(kv.split("=", 1) for kv in lines[0].split() if "=" in kv)
    with wf.Mirror(db) as mirror:
        held = mirror.readings(DEMO_ORG)
    assert int(counts["readings_added"]) == len(held)
    assert int(counts["values_added"]) == held.drop(columns=["device_id", "value"]).count().sum()
    assert sim.password not in out + err
    # failure: wrong password -> exit 1, one line on stderr, no secret
    monkeypatch.setenv("WALTERO_PASSWORD", "wrong-secret-pw")
    assert cli_main(args) == 1
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1
    assert "wrong-secret-pw" not in err and "Unauthenticated" in err
    # bad argument -> exit 1 before any request
    monkeypatch.setenv("WALTERO_PASSWORD", sim.password)
    n0 = len(sim.log)
    assert cli_main([*args[:-2], "--end", "yesterday-ish"]) == 1
    assert len(sim.log) == n0
    with wf.Mirror(db) as mirror:
        assert_equals_truth(mirror, sim, START, END)
